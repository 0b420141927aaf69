"""A summary of a region store: files, images, boxes per image, label and attribute frequencies, provenance.

Label and attribute counts are read from the per-region label columns shard by shard in blocks, never touching the
features, so a COCO-sized store is summarised in seconds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlp.store import RegionStore
from vlp.store import schema as S
from vlp.store.reading import open_h5, read_vocabulary

BLOCK_REGIONS = 1 << 20


@dataclass
class StoreSummary:
    """What a store holds.

    Attributes:
        files: its shard files.
        images: committed images.
        regions: their regions.
        feature_dim: D.
        boxes_per_image: regions of each image, in store order.
        labels: region count per label name.
        attributes: region count per attribute name (empty without attributes).
        provenances: the distinct provenances of the shards, each with the files that carry it.
    """

    files: list[str]
    images: int
    regions: int
    feature_dim: int
    boxes_per_image: np.ndarray
    labels: Counter[str]
    attributes: Counter[str]
    provenances: list[tuple[dict[str, Any], list[str]]]

    def describe(self, top: int = 20) -> str:
        """A human-readable report with the `top` most frequent labels and attributes."""
        counts = self.boxes_per_image
        lines = [
            f"region store: {len(self.files)} file(s): {', '.join(self.files)}",
            f"images: {self.images}, regions: {self.regions}, feature dim: {self.feature_dim}",
        ]
        if len(counts):
            lines.append(
                f"boxes per image: min {counts.min()}, mean {counts.mean():.1f}, median {np.median(counts):g}, "
                f"max {counts.max()}"
            )
        for title, counter in (("labels", self.labels), ("attributes", self.attributes)):
            if counter:
                lines.append(f"{title} ({len(counter)} distinct, top {min(top, len(counter))}):")
                lines += [f"  {count:>9}  {name}" for name, count in counter.most_common(top)]
        for provenance, files in self.provenances:
            where = "all files" if len(self.provenances) == 1 else ", ".join(files)
            lines.append(f"provenance ({where}):")
            lines += ["  " + line for line in json.dumps(provenance, indent=2, sort_keys=True).splitlines()]
        return "\n".join(lines)


def summarize(source: str | Path | Sequence[str | Path]) -> StoreSummary:
    """The summary of a store (a file, a shard name, a folder of shards, or a list of files)."""
    store = RegionStore(source)
    boxes = np.array([store.num_regions(image_id) for image_id in store.image_ids], dtype=np.int64)
    labels: Counter[str] = Counter()
    attributes: Counter[str] = Counter()
    provenances: list[tuple[dict[str, Any], list[str]]] = []
    for path, provenance in zip(store.paths, store.provenances, strict=True):
        _count_names(path, labels, attributes)
        for known, files in provenances:
            if known == provenance:
                files.append(str(path))
                break
        else:
            provenances.append((provenance, [str(path)]))
    return StoreSummary(
        files=[str(p) for p in store.paths],
        images=len(store),
        regions=int(boxes.sum()),
        feature_dim=store.feature_dim,
        boxes_per_image=boxes,
        labels=labels,
        attributes=attributes,
        provenances=provenances,
    )


def _count_names(path: Path, labels: Counter[str], attributes: Counter[str]) -> None:
    """Adds the committed regions' label and attribute names of one shard file to the counters."""
    with open_h5(path, "r") as f:
        regions = int(f.attrs[S.ATTR_COMMITTED_REGIONS])
        label_names = read_vocabulary(f, S.LABEL_NAMES, S.ATTR_COMMITTED_LABELS)
        attribute_names = read_vocabulary(f, S.ATTRIBUTE_NAMES, S.ATTR_COMMITTED_ATTRIBUTES)
        has_attributes = int(f.attrs[S.ATTR_MAX_ATTRIBUTES]) > 0
        for start in range(0, regions, BLOCK_REGIONS):
            end = min(regions, start + BLOCK_REGIONS)
            for index, count in enumerate(np.bincount(f[S.LABELS][start:end], minlength=len(label_names))):
                if count:
                    labels[label_names[index]] += int(count)
            if has_attributes:
                ids = f[S.ATTRIBUTES][start:end]
                ids = ids[ids >= 0]
                for index, count in enumerate(np.bincount(ids, minlength=len(attribute_names))):
                    if count:
                        attributes[attribute_names[index]] += int(count)
