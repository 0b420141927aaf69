"""Deterministic region-store entries for the store tests."""

from __future__ import annotations

import numpy as np

LABELS = ["circle", "square", "triangle", "star"]
ATTRIBUTES = ["red", "blue", "large", "small"]


def make_entry(index: int, dim: int = 16, max_attributes: int = 2) -> dict:
    """Keyword arguments of `RegionStoreWriter.add` for image `index`; values depend only on `index`."""
    rng = np.random.default_rng(index)
    k = int(rng.integers(0, 7))  # zero-region images are legal and must round-trip
    height, width = int(rng.integers(50, 400)), int(rng.integers(50, 400))
    xy = rng.uniform(0, [width / 2, height / 2], size=(k, 2))
    wh = rng.uniform(1, [width / 2, height / 2], size=(k, 2))
    attributes = [
        [ATTRIBUTES[int(a)] for a in rng.choice(4, size=rng.integers(0, max_attributes + 1), replace=False)]
        for _ in range(k)
    ]
    return dict(
        image_id=f"img-{index:04d}",
        image_size=(height, width),
        features=rng.normal(0, 3, size=(k, dim)).astype(np.float32),
        boxes=np.concatenate([xy, xy + wh], axis=1).astype(np.float32),
        scores=rng.uniform(0.2, 1, size=k).astype(np.float32),
        labels=[LABELS[int(i)] for i in rng.integers(0, 4, size=k)],
        attributes=attributes,
        attribute_scores=[[float(s) for s in rng.uniform(0.1, 1, size=len(row))] for row in attributes],
    )
