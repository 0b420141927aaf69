"""Crash-safe, appendable writer of one region-store shard file.

Entries are buffered in memory and written in batches by `commit()`. A commit writes the data, flushes the file, and
only then advances the committed counters (and flushes again), so a process killed at any point leaves a file whose
counters describe complete images only. Reopening the file (the default `if_exists="resume"`) truncates whatever lies
past the counters and continues, which is how a killed extraction resumes without duplicates or losses.

Datasets are never compressed on purpose: uncompressed chunks are rewritten in place, whereas compressed chunks move on
every rewrite and a crash between two flushes could then leave committed data pointing at reused space. The per-region
and per-image columns carry HDF5's Fletcher32 checksum filter instead (it keeps every chunk's size, so chunks are still
rewritten in place): a reader then detects flipped bytes as an error rather than returning them.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import h5py
import numpy as np

import vlp
from vlp.store import schema as S
from vlp.store.entry import RegionEntry
from vlp.store.reading import open_h5, read_vocabulary, validate_schema
from vlp.store.schema import RegionStoreError
from vlp.store.strings import append_strings, create_string_column, read_strings, truncate_strings

IfExists = Literal["resume", "error", "overwrite"]
LabelsLike = Sequence[int] | Sequence[str] | np.ndarray
AttributesLike = Sequence[Sequence[int]] | Sequence[Sequence[str]] | np.ndarray


class RegionStoreWriter:
    """Appends images to one HDF5 region-store file.

    Args:
        path: the shard file to write.
        feature_dim: D, the width of every region feature.
        provenance: what produced the features (backend, config, weights hash, thresholds, box limits, ...), stored as
            JSON. Resuming with a different provenance is refused, so one file never mixes two extraction settings.
        label_names: initial label vocabulary; names met in `add` are appended to it.
        attribute_names: initial attribute vocabulary (only with `max_attributes_per_region > 0`).
        max_attributes_per_region: A, the attribute slots per region; 0 stores no attributes.
        if_exists: what to do when `path` exists: "resume" (validate, truncate to the committed counters, append),
            "error", or "overwrite".
        commit_every: buffered images that trigger an automatic commit.
        checksums: a new file's columns get Fletcher32 checksums, checked on every read (`benchmarks/
            extraction_speed.py` measures what they cost); a resumed file keeps the layout it has.
    """

    def __init__(
        self,
        path: str | Path,
        feature_dim: int,
        *,
        provenance: Mapping[str, Any] | None = None,
        label_names: Sequence[str] = (),
        attribute_names: Sequence[str] = (),
        max_attributes_per_region: int = 0,
        if_exists: IfExists = "resume",
        commit_every: int = 64,
        checksums: bool = True,
    ) -> None:
        self.path = Path(path)
        self.checksums = checksums
        self.feature_dim = int(feature_dim)
        self.max_attributes = int(max_attributes_per_region)
        self.commit_every = commit_every
        self._provenance_json = json.dumps(dict(provenance or {}), sort_keys=True, default=str)
        self._pending: list[RegionEntry] = []
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and if_exists == "error":
            raise RegionStoreError(f"{self.path}: region store exists already (resume it or choose another path)")
        self._lock = _lock_for_writing(self.path)
        try:
            if exists and if_exists == "resume":
                self._file = open_h5(self.path, "r+")
                self._resume()
            else:
                self._file = h5py.File(self.path, "w", locking=False)
                self._create()
        except BaseException:
            if hasattr(self, "_file"):
                self._file.close()
            self._lock.close()
            raise
        self._label_index = {name: i for i, name in enumerate(self._label_names)}
        self._attribute_index = {name: i for i, name in enumerate(self._attribute_names)}
        self._merge_vocabulary(self._label_names, self._label_index, label_names, "label_names")
        self._merge_vocabulary(self._attribute_names, self._attribute_index, attribute_names, "attribute_names")

    # ------------------------------------------------------------------ public API
    @property
    def committed_ids(self) -> set[str]:
        """Ids of the images already safely in the file (a resumed run skips these)."""
        return self._committed_ids

    def __contains__(self, image_id: object) -> bool:
        key = str(image_id)
        return key in self._committed_ids or key in self._pending_ids

    def __len__(self) -> int:
        """Images committed plus images buffered."""
        return len(self._committed_ids) + len(self._pending)

    def add(
        self,
        image_id: str | int,
        image_size: tuple[int, int],
        features: np.ndarray,
        boxes: np.ndarray,
        scores: np.ndarray,
        labels: LabelsLike,
        attributes: AttributesLike | None = None,
        attribute_scores: np.ndarray | Sequence[Sequence[float]] | None = None,
    ) -> None:
        """Buffers one image; it is in the file after the next `commit()` (automatic every `commit_every` images).

        Args:
            image_id: unique id; ints are stored as their decimal string.
            image_size: (height, width) of the image in pixels.
            features: [K, D] region features (any float dtype; stored as float16).
            boxes: [K, 4] pixel boxes x1, y1, x2, y2.
            scores: [K] confidences.
            labels: [K] label indices into the vocabulary, or label names (new names extend the vocabulary).
            attributes: [K, <=A] attribute indices (-1 pads) or per-region lists of names; None for no attributes.
            attribute_scores: same layout as `attributes`.

        Raises:
            RegionStoreError: naming the file and the image id, for a duplicate id, a feature dimension other than D,
                inconsistent region counts, non-finite values, unknown label indices or too many attributes.
        """
        key = str(image_id)
        where = f"{self.path}: image {key!r}"
        if key in self._committed_ids or key in self._pending_ids:
            raise RegionStoreError(f"{where}: duplicate image id (already in the store)")
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise RegionStoreError(
                f"{where}: feature dimension mismatch, shape {features.shape}, the store holds [K, {self.feature_dim}]"
            )
        num_regions = features.shape[0]
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) if len(boxes) else np.zeros((0, 4), np.float32)
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        for name, count in (("boxes", len(boxes)), ("scores", len(scores)), ("labels", len(labels))):
            if count != num_regions:
                raise RegionStoreError(f"{where}: {num_regions} features but {count} {name}")
        with np.errstate(over="ignore"):
            stored_features = features.astype(np.float16)
        if not (np.isfinite(stored_features).all() and np.isfinite(boxes).all() and np.isfinite(scores).all()):
            raise RegionStoreError(f"{where}: non-finite features, boxes or scores (float16 holds |x| <= 65504)")
        vocabulary_sizes = len(self._label_names), len(self._attribute_names)
        try:
            label_ids = self._label_ids(labels, where)
            attr_ids, attr_scores = self._attribute_arrays(attributes, attribute_scores, num_regions, where)
        except RegionStoreError:
            self._forget_names_since(*vocabulary_sizes)  # a refused image must not leave its names behind
            raise
        height, width = (int(v) for v in image_size)
        self._pending.append(
            RegionEntry(key, (height, width), stored_features, boxes, scores, label_ids, [], attr_ids, attr_scores)
        )
        self._pending_ids.add(key)
        if len(self._pending) >= self.commit_every:
            self.commit()

    def commit(self) -> None:
        """Writes the buffered images, flushes, then advances the committed counters (crash-safe order)."""
        if not self._pending:
            return
        f, pending = self._file, self._pending
        self._append_names(S.LABEL_NAMES, self._label_names)
        self._append_names(S.ATTRIBUTE_NAMES, self._attribute_names)
        n0, r0 = self._num_images, self._num_regions
        counts = np.array([e.num_regions for e in pending], dtype=np.int64)
        offsets = r0 + np.cumsum(counts)
        append_strings(f, S.IMAGE_IDS, [e.image_id for e in pending], n0)
        _append(f[S.IMAGE_SIZE], np.array([e.image_size for e in pending], dtype=np.int32), n0)
        _append(f[S.OFFSETS], offsets, n0 + 1)
        _append(f[S.FEATURES], np.concatenate([e.features for e in pending]), r0)
        _append(f[S.BOXES], np.concatenate([e.boxes for e in pending]), r0)
        _append(f[S.SCORES], np.concatenate([e.scores for e in pending]), r0)
        _append(f[S.LABELS], np.concatenate([e.labels for e in pending]), r0)
        if self.max_attributes:
            _append(f[S.ATTRIBUTES], np.concatenate([e.attributes for e in pending]), r0)
            _append(f[S.ATTRIBUTE_SCORES], np.concatenate([e.attribute_scores for e in pending]), r0)
        f.flush()
        self._num_images, self._num_regions = n0 + len(pending), int(offsets[-1])
        f.attrs[S.ATTR_COMMITTED_LABELS] = len(self._label_names)
        f.attrs[S.ATTR_COMMITTED_ATTRIBUTES] = len(self._attribute_names)
        f.attrs[S.ATTR_COMMITTED_REGIONS] = self._num_regions
        f.attrs[S.ATTR_COMMITTED_IMAGES] = self._num_images
        f.flush()
        self._committed_ids |= self._pending_ids
        self._pending, self._pending_ids = [], set()

    def close(self) -> None:
        """Commits what is buffered and closes the file."""
        if self._file.id.valid:
            try:
                self.commit()
            finally:
                self._file.close()
                self._lock.close()

    def __enter__(self) -> RegionStoreWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Buffered entries were each added whole, so they are kept even when the block raised.
        self.close()

    # ------------------------------------------------------------------ file layout
    def _create(self) -> None:
        f, dim = self._file, self.feature_dim
        f.attrs[S.ATTR_SCHEMA] = S.SCHEMA_NAME
        f.attrs[S.ATTR_VERSION] = S.SCHEMA_VERSION
        f.attrs[S.ATTR_FEATURE_DIM] = dim
        f.attrs[S.ATTR_MAX_ATTRIBUTES] = self.max_attributes
        f.attrs[S.ATTR_PROVENANCE] = self._provenance_json
        f.attrs[S.ATTR_CREATED_BY] = f"vlp {vlp.__version__}"
        for column in (S.IMAGE_IDS, S.LABEL_NAMES, S.ATTRIBUTE_NAMES):
            create_string_column(f, column)
        images, rows, checked = S.CHUNK_IMAGES, S.CHUNK_REGIONS, {"fletcher32": self.checksums}
        f.create_dataset(S.IMAGE_SIZE, shape=(0, 2), dtype=np.int32, chunks=(images, 2), maxshape=(None, 2), **checked)
        f.create_dataset(S.OFFSETS, data=np.zeros(1, np.int64), chunks=(images,), maxshape=(None,), **checked)
        f.create_dataset(
            S.FEATURES, shape=(0, dim), dtype=np.float16, chunks=(rows, dim), maxshape=(None, dim), **checked
        )
        f.create_dataset(S.BOXES, shape=(0, 4), dtype=np.float32, chunks=(rows * 8, 4), maxshape=(None, 4), **checked)
        f.create_dataset(S.SCORES, shape=(0,), dtype=np.float32, chunks=(rows * 8,), maxshape=(None,), **checked)
        f.create_dataset(S.LABELS, shape=(0,), dtype=np.int32, chunks=(rows * 8,), maxshape=(None,), **checked)
        if self.max_attributes:
            slots = dict(shape=(0, self.max_attributes), chunks=(rows * 8, self.max_attributes), **checked)
            f.create_dataset(S.ATTRIBUTES, dtype=np.int32, maxshape=(None, self.max_attributes), **slots)
            f.create_dataset(S.ATTRIBUTE_SCORES, dtype=np.float32, maxshape=(None, self.max_attributes), **slots)
        counters = (S.ATTR_COMMITTED_IMAGES, S.ATTR_COMMITTED_REGIONS, S.ATTR_COMMITTED_LABELS)
        for counter in (*counters, S.ATTR_COMMITTED_ATTRIBUTES):
            f.attrs[counter] = 0
        f.flush()
        self._num_images = self._num_regions = 0
        self._committed_ids: set[str] = set()
        self._pending_ids: set[str] = set()
        self._label_names: list[str] = []
        self._attribute_names: list[str] = []

    def _resume(self) -> None:
        f = self._file
        validate_schema(f, self.path)
        stored_dim = int(f.attrs[S.ATTR_FEATURE_DIM])
        if stored_dim != self.feature_dim:
            message = f"feature dimension mismatch, the store holds {stored_dim}-d features, not {self.feature_dim}"
            raise RegionStoreError(f"{self.path}: {message}")
        stored_slots = int(f.attrs[S.ATTR_MAX_ATTRIBUTES])
        if stored_slots != self.max_attributes:
            raise RegionStoreError(
                f"{self.path}: the store has {stored_slots} attribute slots per region, not {self.max_attributes}"
            )
        stored = json.loads(f.attrs[S.ATTR_PROVENANCE])
        wanted = json.loads(self._provenance_json)
        if stored != wanted:
            changed = sorted(k for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k))
            raise RegionStoreError(
                f"{self.path}: cannot resume with different settings (provenance differs in {', '.join(changed)}); "
                "write to a new file or restore the original settings"
            )
        self._num_images = int(f.attrs[S.ATTR_COMMITTED_IMAGES])
        self._num_regions = int(f.attrs[S.ATTR_COMMITTED_REGIONS])
        self._label_names = read_vocabulary(f, S.LABEL_NAMES, S.ATTR_COMMITTED_LABELS)
        self._attribute_names = read_vocabulary(f, S.ATTRIBUTE_NAMES, S.ATTR_COMMITTED_ATTRIBUTES)
        # Drop whatever a killed writer left past the counters.
        truncate_strings(f, S.IMAGE_IDS, self._num_images)
        f[S.IMAGE_SIZE].resize(self._num_images, axis=0)
        f[S.OFFSETS].resize(self._num_images + 1, axis=0)
        for name in S.PER_REGION_REQUIRED + (S.PER_REGION_ATTRIBUTES if self.max_attributes else ()):
            f[name].resize(self._num_regions, axis=0)
        truncate_strings(f, S.LABEL_NAMES, len(self._label_names))
        truncate_strings(f, S.ATTRIBUTE_NAMES, len(self._attribute_names))
        f.flush()
        self._committed_ids = set(read_strings(f, S.IMAGE_IDS, self._num_images))
        self._pending_ids = set()

    # ------------------------------------------------------------------ vocabularies
    def _merge_vocabulary(self, names: list[str], index: dict[str, int], given: Sequence[str], dataset: str) -> None:
        """Extends the vocabulary with `given`, refusing a `given` that reorders names already in the file."""
        given = list(given)
        common = min(len(names), len(given))
        if names[:common] != given[:common]:
            raise RegionStoreError(f"{self.path}: {dataset} given do not match the {dataset} stored in the file")
        for name in given[common:]:
            self._intern(names, index, name)

    def _forget_names_since(self, num_labels: int, num_attributes: int) -> None:
        for names, index, keep in (
            (self._label_names, self._label_index, num_labels),
            (self._attribute_names, self._attribute_index, num_attributes),
        ):
            for name in names[keep:]:
                del index[name]
            del names[keep:]

    @staticmethod
    def _intern(names: list[str], index: dict[str, int], name: str) -> int:
        if name not in index:
            index[name] = len(names)
            names.append(name)
        return index[name]

    def _label_ids(self, labels: LabelsLike, where: str) -> np.ndarray:
        labels = list(labels) if not isinstance(labels, np.ndarray) else labels
        if len(labels) and isinstance(labels[0], str):
            return np.array([self._intern(self._label_names, self._label_index, n) for n in labels], dtype=np.int32)
        ids = np.asarray(labels, dtype=np.int32).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self._label_names)):
            raise RegionStoreError(
                f"{where}: label index out of range [0, {len(self._label_names)}); pass names or extend label_names"
            )
        return ids

    def _attribute_arrays(
        self,
        attributes: AttributesLike | None,
        scores: np.ndarray | Sequence[Sequence[float]] | None,
        num_regions: int,
        where: str,
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Packs per-region attributes into [K, A] index and score arrays (-1 and 0 pad)."""
        if not self.max_attributes:
            if attributes is not None:
                raise RegionStoreError(f"{where}: attributes given but the store has max_attributes_per_region=0")
            return None, None
        slots = self.max_attributes
        ids = np.full((num_regions, slots), -1, dtype=np.int32)
        packed_scores = np.zeros((num_regions, slots), dtype=np.float32)
        if attributes is None:
            return ids, packed_scores
        if len(attributes) != num_regions:
            raise RegionStoreError(f"{where}: {num_regions} regions but attributes for {len(attributes)}")
        for k, row in enumerate(attributes):
            row_scores = [1.0] * len(row) if scores is None else list(scores[k])
            kept = [(a, s) for a, s in zip(row, row_scores, strict=True) if isinstance(a, str) or int(a) >= 0]
            if len(kept) > slots:
                raise RegionStoreError(f"{where}: region {k} has {len(kept)} attributes, the store holds {slots}")
            for j, (a, score) in enumerate(kept):
                if isinstance(a, str):
                    a = self._intern(self._attribute_names, self._attribute_index, a)
                elif int(a) >= len(self._attribute_names):
                    known = len(self._attribute_names)
                    raise RegionStoreError(f"{where}: attribute index {a} out of range [0, {known})")
                ids[k, j] = int(a)
                packed_scores[k, j] = float(score)
        return ids, packed_scores

    def _append_names(self, column: str, names: list[str]) -> None:
        stored = self._file[column]["ends"].shape[0]
        if stored < len(names):
            append_strings(self._file, column, names[stored:], stored)


def _lock_for_writing(path: Path) -> IO[bytes]:
    """Takes an exclusive lock on `path` (created if missing, never truncated) so that two writers never share a file.

    The lock is released when the returned file object is closed or the process dies, SIGKILL included.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "ab")  # noqa: SIM115  (held open for the writer's lifetime)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RegionStoreError(f"{path}: another process is writing this region store") from None
    return handle


def _append(dataset: h5py.Dataset, rows: np.ndarray, start: int) -> None:
    """Writes `rows` at `start` along axis 0, growing the dataset to exactly `start + len(rows)`."""
    dataset.resize(start + len(rows), axis=0)
    dataset[start:] = rows
