"""The contract between extract-features and its detector backends (detectron2, torchvision, given-boxes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass
class ImageRecord:
    """One decoded image handed to a backend.

    Attributes:
        image_id: the id it will have in the region store.
        path: the file it was read from (for messages and for given-boxes lookups).
        pixels: [H, W, 3] uint8 RGB array (every input mode, palette, alpha, 16-bit, CMYK, is converted to this).
    """

    image_id: str
    path: str
    pixels: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])


@dataclass
class Detections:
    """The kept regions of one image, as the region store takes them.

    Attributes:
        features: [K, D] float32 region features.
        boxes: [K, 4] float32 pixel boxes x1, y1, x2, y2 in the original image's coordinates.
        scores: [K] float32 confidences of the chosen class.
        labels: [K] int indices into the backend's `label_names`.
        attributes: [K, A] int attribute indices (-1 pads) into `attribute_names`, or None.
        attribute_scores: [K, A] float32, or None.
    """

    features: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    attributes: np.ndarray | None = None
    attribute_scores: np.ndarray | None = None


class Backend(Protocol):
    """A detector that extract-features drives batch by batch."""

    feature_dim: int
    label_names: list[str]
    attribute_names: list[str]
    max_attributes_per_region: int

    def provenance(self) -> dict[str, Any]:
        """Every setting that shapes the features (backend name, config, weights hash, thresholds, box limits)."""
        ...

    def detect(self, images: list[ImageRecord]) -> list[Detections]:
        """Detections for each image of the batch, in order; never an empty entry (at least the minimum boxes)."""
        ...
