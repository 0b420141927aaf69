"""Helpers of the tests that run whole extractions through the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from features.cli import main
from vlp.store import RegionStore

CONFIG = "configs/features/given_boxes.yaml"
QUICK = [
    "backend.init_args.backbone=resnet18",
    "backend.init_args.min_size=64",
    "backend.init_args.max_size=128",
    "run.num_workers=0",
    "run.batch_size=4",
    "run.progress=none",
    "run.device=cpu",
]


def extract(inputs, output: Path, *extra: str, image_root=None, weights=None) -> int:
    argv = ["run", "--config", CONFIG, *(f"--input={path}" for path in inputs), "--output", str(output)]
    if image_root is not None:
        argv += ["--image-root", str(image_root)]
    overrides = [*QUICK, *([f"backend.init_args.weights={weights}"] if weights else [])]
    return main([*argv, *overrides, *extra])


def assert_same_store(a: RegionStore, b: RegionStore) -> None:
    """Equal content, whatever the order of images and files."""
    assert sorted(a.image_ids) == sorted(b.image_ids)
    assert a.provenance == b.provenance
    for image_id in a.image_ids:
        x, y = a[image_id], b[image_id]
        assert x.image_size == y.image_size and x.label_names == y.label_names
        assert x.attribute_names == y.attribute_names
        np.testing.assert_array_equal(x.boxes, y.boxes)
        np.testing.assert_array_equal(x.scores, y.scores)
        # float16 features of one image computed in batches of other sizes: equal up to float16 rounding
        np.testing.assert_allclose(x.features.astype(np.float32), y.features.astype(np.float32), rtol=2e-3, atol=2e-3)
