"""The contract between extract-features and its detector backends (detectron2, torchvision, given-boxes).

A backend is a class named by `class_path` in a config of `configs/features/`; extract-features builds it as
`cls(**init_args, device=device)` in every process (one per shard), so its constructor takes every setting as a keyword
argument plus `device` (e.g. "cpu", "cuda:1"). Whatever shapes the features must come back from `provenance()`, with
files named by content hash rather than by path, so that shards and resumed runs on other machines agree.
"""

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
        original_size: (height, width) of the image in its file when `pixels` was downscaled while decoding (very
            large images); None when `pixels` is the image at full size. Backends report boxes in these coordinates.
    """

    image_id: str
    path: str
    pixels: np.ndarray
    original_size: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of `pixels`."""
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])

    @property
    def full_size(self) -> tuple[int, int]:
        """(height, width) of the image in its file: the size the region store records and boxes refer to."""
        return self.original_size or self.size

    def pixel_scale(self) -> np.ndarray:
        """[4] factors (x, y, x, y) that take boxes in `pixels` coordinates to `full_size` coordinates."""
        (height, width), (full_height, full_width) = self.size, self.full_size
        return np.array([full_width / width, full_height / height] * 2, dtype=np.float32)


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
