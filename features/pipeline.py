"""One shard's extraction: decode in DataLoader workers, detect in batches, write to the shard's region store.

Decoding runs in `num_workers` processes ahead of the model (the DataLoader prefetches), so the model waits on decoding
only when the workers cannot keep up. Images already committed to the store are skipped, which is all a resumed run
needs: the store's writer has truncated whatever a killed run left uncommitted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from torch.utils.data import DataLoader, Dataset

from features.backends.base import Backend, Detections, ImageRecord
from features.decode import DecodeFailure, Decoder
from features.failures import FailureLog
from features.inputs import ImageItem
from features.progress import Progress
from vlp.store import RegionStoreWriter


@dataclass
class ShardSummary:
    """What one run did for one shard file.

    Attributes:
        shard: the shard file.
        assigned: images of this shard.
        skipped: images already in the store when the run started.
        extracted: images written by this run.
        failed: images sent to the failures file.
        boxes: number of regions of each image written by this run.
        seconds: wall time of the run.
    """

    shard: str
    assigned: int = 0
    skipped: int = 0
    extracted: int = 0
    failed: int = 0
    boxes: list[int] = field(default_factory=list)
    seconds: float = 0.0


def describe(summaries: Sequence[ShardSummary]) -> str:
    """The final report of a run over one or several shards."""
    extracted = sum(s.extracted for s in summaries)
    boxes = [b for s in summaries for b in s.boxes]
    seconds = max((s.seconds for s in summaries), default=0.0)
    lines = [
        f"images: {sum(s.assigned for s in summaries)} assigned, {extracted} extracted, "
        f"{sum(s.skipped for s in summaries)} already in the store, {sum(s.failed for s in summaries)} failed",
    ]
    if boxes:
        lines.append(
            f"boxes per image: mean {sum(boxes) / len(boxes):.1f}, min {min(boxes)}, max {max(boxes)} "
            f"({sum(boxes)} regions)"
        )
    if seconds > 0:
        lines.append(f"time: {seconds:.1f} s, {extracted / seconds:.2f} images/s")
    lines += [f"store: {s.shard}" for s in summaries]
    return "\n".join(lines)


class DecodedImages(Dataset):
    """Decodes `items[i]` on access (in a DataLoader worker); bad files come back as `DecodeFailure`s."""

    def __init__(self, items: Sequence[ImageItem], decoder: Decoder) -> None:
        self.items, self.decoder = list(items), decoder

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> ImageRecord | DecodeFailure:
        return self.decoder(self.items[index])


def _named(found: Detections, backend: Backend) -> dict[str, Any]:
    """Labels and attributes of detections by name.

    The store keeps one vocabulary of distinct names and a backend's may repeat a name (torchvision's COCO categories
    list "N/A" for every unused id), so indices would not carry over.
    """
    named: dict[str, Any] = {"labels": [backend.label_names[i] for i in found.labels]}
    if found.attributes is not None:
        slots = [[j for j, a in enumerate(row) if a >= 0] for row in found.attributes]
        named["attributes"] = [
            [backend.attribute_names[row[j]] for j in kept] for row, kept in zip(found.attributes, slots, strict=True)
        ]
        if found.attribute_scores is not None:
            named["attribute_scores"] = [
                [float(row[j]) for j in kept] for row, kept in zip(found.attribute_scores, slots, strict=True)
            ]
    return named


def as_list(batch: list) -> list:
    """Collate that keeps decoded images as they are: backends batch them their own way."""
    return batch


def extract_images(
    items: Sequence[ImageItem],
    backend: Backend,
    writer: RegionStoreWriter,
    failures: FailureLog,
    decoder: Decoder,
    *,
    batch_size: int,
    num_workers: int,
    progress: Progress | None = None,
) -> ShardSummary:
    """Extracts every item not yet in `writer`'s store.

    Args:
        items: the images of this shard.
        backend: the detector.
        writer: the shard's store, opened with the backend's vocabularies.
        failures: where undecodable images go.
        decoder: how files become RGB arrays.
        batch_size: images per `backend.detect` call.
        num_workers: decoding processes (0 decodes in this process).
        progress: reporter, started with the number of images to do and told after every batch.

    Raises:
        RuntimeError: when the backend returns no region for an image (backends must return their minimum boxes).
    """
    start = time.perf_counter()
    todo = [item for item in items if item.image_id not in writer.committed_ids]
    summary = ShardSummary(shard=str(writer.path), assigned=len(items), skipped=len(items) - len(todo))
    if progress is not None:
        progress.start(len(todo))
    loader = DataLoader(
        DecodedImages(todo, decoder), batch_size=batch_size, num_workers=num_workers, collate_fn=as_list
    )
    for batch in loader:
        records = [r for r in batch if isinstance(r, ImageRecord)]
        for failure in batch:
            if isinstance(failure, DecodeFailure):
                failures.record(failure)
        detections = backend.detect(records) if records else []
        for record, found in zip(records, detections, strict=True):
            if len(found.boxes) == 0:
                raise RuntimeError(f"{type(backend).__name__} returned no region for image {record.image_id!r}")
            writer.add(
                record.image_id, record.full_size, found.features, found.boxes, found.scores, **_named(found, backend)
            )
            summary.boxes.append(len(found.boxes))
        summary.extracted += len(records)
        summary.failed += len(batch) - len(records)
        if progress is not None:
            progress.update(len(records), len(batch) - len(records))
    writer.commit()
    if progress is not None:
        progress.close()
    summary.seconds = time.perf_counter() - start
    return summary
