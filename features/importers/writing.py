"""Writes the images an importer reads into a region store: resumable, with progress, in constant memory."""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from features.progress import Progress
from vlp.store import RegionStoreWriter

# The label of regions whose dump carries no class (plain BUTD TSV, or a VinVL region overlapping no labelled box).
NO_LABEL = "__no_label__"


@dataclass
class ImportedImage:
    """One image of a dump, as the store takes it.

    Attributes:
        image_id: the store id.
        image_size: (height, width).
        features: [K, D] float32.
        boxes: [K, 4] float32 pixel x1, y1, x2, y2.
        scores: [K] float32.
        labels: [K] label names (tags).
        attributes: [K] lists of attribute names, or None when the dump has none.
        attribute_scores: [K] lists of their scores, or None.
    """

    image_id: str
    image_size: tuple[int, int]
    features: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: list[str]
    attributes: list[list[str]] | None = None
    attribute_scores: list[list[float]] | None = None


@dataclass
class ImportSummary:
    """What an import did."""

    store: str
    written: int
    skipped: int
    seconds: float

    def describe(self) -> str:
        rate = self.written / self.seconds if self.seconds > 0 else 0.0
        return (
            f"imported {self.written} images into {self.store} ({self.skipped} already there), "
            f"{self.seconds:.1f} s, {rate:.1f} images/s"
        )


def import_into_store(
    output: str | Path,
    feature_dim: int,
    images: Callable[[Container[str]], Iterator[ImportedImage]],
    *,
    provenance: dict[str, Any],
    max_attributes_per_region: int,
    total: int,
    if_exists: str = "resume",
    progress: Progress | None = None,
) -> ImportSummary:
    """Streams `images(skip)` into the store `output`; `skip` holds the ids already committed (a resumed import).

    Args:
        output: the store file.
        feature_dim: D of every image.
        images: given the committed ids, yields the other images of the dump in order.
        provenance: the dump's description, stored in the file.
        max_attributes_per_region: attribute slots per region (0: none).
        total: rows of the dump (for progress).
        if_exists: "resume", "error" or "overwrite".
        progress: reporter.
    """
    start = time.perf_counter()
    with RegionStoreWriter(
        output,
        feature_dim,
        provenance=provenance,
        max_attributes_per_region=max_attributes_per_region,
        if_exists=if_exists,  # type: ignore[arg-type]
    ) as writer:
        skipped = len(writer.committed_ids)
        if progress is not None:
            progress.start(max(0, total - skipped))
        written = 0
        for image in images(writer.committed_ids):
            writer.add(
                image.image_id,
                image.image_size,
                image.features,
                image.boxes,
                image.scores,
                image.labels,
                image.attributes,
                image.attribute_scores,
            )
            written += 1
            if progress is not None:
                progress.update(1, 0)
    if progress is not None:
        progress.close()
    return ImportSummary(str(output), written, skipped, time.perf_counter() - start)
