"""The per-image record that goes into and comes out of a region store."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RegionEntry:
    """The regions of one image.

    Attributes:
        image_id: unique id of the image within a store (COCO ids are written as their decimal string).
        image_size: (height, width) in pixels of the image the boxes refer to.
        features: [K, D] region features (float16 as stored).
        boxes: [K, 4] float32 pixel boxes x1, y1, x2, y2.
        scores: [K] float32 detection confidences.
        labels: [K] int32 indices into the store's `label_names`.
        label_names: [K] the names of `labels` (filled by the reader; writers may pass names instead of indices).
        attributes: [K, A] int32 indices into `attribute_names`, -1 where a region has fewer than A attributes;
            None when the store has no attributes.
        attribute_scores: [K, A] float32 confidences of `attributes` (0 where padded), or None.
        attribute_names: [K] lists of attribute names per region (filled by the reader), or None.
    """

    image_id: str
    image_size: tuple[int, int]
    features: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    label_names: list[str] = field(default_factory=list)
    attributes: np.ndarray | None = None
    attribute_scores: np.ndarray | None = None
    attribute_names: list[list[str]] | None = None

    @property
    def num_regions(self) -> int:
        return int(self.boxes.shape[0])
