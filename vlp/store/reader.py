"""Reader of a region store made of one or several shard files, with random access by image id.

The reader builds a small in-memory index (image ids, sizes, offsets) when it is created and opens the HDF5 files
lazily, once per process: h5py handles do not survive `fork`, so a DataLoader worker that receives a copy of the store
opens its own handles on first access. Only committed images are visible.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from vlp.store import schema as S
from vlp.store.entry import RegionEntry
from vlp.store.reading import open_h5, read_vocabulary, validate_schema
from vlp.store.schema import RegionStoreError
from vlp.store.strings import read_strings

SHARD_PATTERN = re.compile(r"\.(\d+)-of-(\d+)\.h5$")


def shard_path(path: str | Path, index: int, count: int) -> Path:
    """The file that shard `index` of `count` writes for a store named `path` (`feats.h5` -> `feats.00001-of-00004.h5`).

    `RegionStore(path)` finds these shards when `path` itself does not exist.
    """
    path = Path(path)
    if count == 1:
        return path
    return path.with_name(f"{path.stem}.{index:05d}-of-{count:05d}.h5")


def check_shard_sets(files: Sequence[Path]) -> None:
    """Refuses an incomplete set of shards: every `NAME.<k>-of-<n>.h5` among `files` needs its `n - 1` siblings, all
    of the same `n` (a store read without one of its shards would look complete and lack images).

    Raises:
        RegionStoreError: naming the missing shard files, or the two shard counts that disagree.
    """
    sets: dict[Path, dict[int, set[int]]] = {}
    for path in files:
        match = SHARD_PATTERN.search(path.name)
        if match:
            name = path.with_name(path.name[: match.start()] + ".h5")
            sets.setdefault(name, {}).setdefault(int(match.group(2)), set()).add(int(match.group(1)))
    for name, by_count in sets.items():
        if len(by_count) > 1:
            counts = " and ".join(f"-of-{count:05d}" for count in sorted(by_count))
            raise RegionStoreError(f"{name}: shards of different runs mixed ({counts}); keep one run's shards")
        ((count, indices),) = by_count.items()
        missing = [shard_path(name, index, count).name for index in range(count) if index not in indices]
        if missing:
            raise RegionStoreError(
                f"{name}: {len(indices)} of {count} shards found, missing {', '.join(missing[:5])}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            )


def resolve_store_paths(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """The shard files of a store: a file, its `NAME.*-of-*.h5` shards, a folder of `.h5` files, or a list of files.

    Raises:
        RegionStoreError: nothing is there, or a set of shards is incomplete (`check_shard_sets`).
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            files = sorted(path.glob("*.h5"))
        elif path.exists():
            files = [path]
        else:
            files = sorted(p for p in path.parent.glob(f"{path.stem}.*-of-*.h5") if SHARD_PATTERN.search(p.name))
        if not files:
            raise RegionStoreError(f"{path}: no region store here (no file, folder or {path.stem}.*-of-*.h5 shards)")
        if not path.is_file():
            check_shard_sets(files)
        return files
    files = [Path(p) for p in source]
    if not files:
        raise RegionStoreError("no region store files given")
    return files


@dataclass(frozen=True)
class _Shard:
    """What the index keeps of one shard file."""

    path: Path
    offsets: np.ndarray  # [N + 1] int64
    image_size: np.ndarray  # [N, 2] int32
    label_map: np.ndarray  # shard label index -> store label index
    attribute_map: np.ndarray  # shard attribute index -> store attribute index
    provenance: dict[str, Any]
    has_attributes: bool


# A float16 whose exponent bits are all ones is an infinity or a NaN.
FLOAT16_EXPONENT = 0x7C00


def all_finite(values: np.ndarray) -> bool:
    """Whether every value is finite. For float16 (the stored features) it tests the exponent bits, which is about
    13x faster than `np.isfinite` there: NumPy has no fast float16 path, and this check ran on every read."""
    if values.dtype == np.float16:
        return bool(((values.view(np.uint16) & FLOAT16_EXPONENT) != FLOAT16_EXPONENT).all())
    return bool(np.isfinite(values).all())


def _check_offsets(f: h5py.File, path: Path, ids: list[str], offsets: np.ndarray) -> None:
    """Refuses offsets that would hand an image another image's regions: offsets must start at 0, never decrease, and
    end inside every per-region column.

    Raises:
        RegionStoreError: naming the file and the first image at fault.
    """
    if len(offsets) and int(offsets[0]) != 0:
        raise RegionStoreError(f"{path}: offsets start at {int(offsets[0])}, not 0 (corrupt image index)")
    falling = np.flatnonzero(np.diff(offsets) < 0)
    if len(falling):
        row = int(falling[0])
        raise RegionStoreError(
            f"{path}: image {ids[row]!r}: its offsets decrease ({int(offsets[row])} to {int(offsets[row + 1])}; "
            "corrupt image index)"
        )
    end = int(offsets[-1]) if len(offsets) else 0
    for column in (S.FEATURES, S.BOXES, S.SCORES, S.LABELS):
        if f[column].shape[0] < end:
            row = int(np.searchsorted(offsets[1:], f[column].shape[0], side="right"))
            raise RegionStoreError(
                f"{path}: image {ids[row]!r}: its regions end past the {f[column].shape[0]} rows of {column!r} "
                "(truncated file?)"
            )


def _provenance(f: h5py.File, path: Path) -> dict[str, Any]:
    """The extraction provenance recorded in a shard.

    Raises:
        RegionStoreError: naming the file when the attribute is not a JSON object.
    """
    try:
        provenance = json.loads(f.attrs[S.ATTR_PROVENANCE])
    except (KeyError, TypeError, ValueError) as error:
        raise RegionStoreError(f"{path}: the provenance attribute is not valid JSON: {error}") from error
    if not isinstance(provenance, dict):
        raise RegionStoreError(f"{path}: the provenance attribute is not a JSON object")
    return provenance


def _out_of_range(shard: _Shard, image_id: str, what: str, indices: np.ndarray, size: int, low: int = 0) -> None:
    """Refuses `what` indices of an image outside [low, size): they would name another label or none.

    Raises:
        RegionStoreError: naming the file, the image and the first bad index.
    """
    bad = indices[(indices < low) | (indices >= size)]
    if len(bad):
        raise RegionStoreError(
            f"{shard.path}: image {image_id!r}: {what} index {int(bad[0])} is out of range (the file has {size} "
            f"{what} names; corrupt store?)"
        )


def _unreadable(shard: _Shard, image_id: str, what: str, error: OSError) -> RegionStoreError:
    """The error for an image whose `what` (regions, labels) cannot be read from `shard`."""
    message = f"{shard.path}: image {image_id!r}: cannot read its {what} (truncated or corrupt file?): {error}"
    return RegionStoreError(message)


class RegionStore:
    """One or several region-store shard files read as one store.

    Args:
        source: a store file, a store name whose shards `NAME.00000-of-0000K.h5` exist, a folder of shard files, or a
            list of files.

    Example:
        >>> store = RegionStore("runs/demo/features.h5")
        >>> entry = store["42"]                     # or store[42] for COCO integer ids
        >>> geometry = store.geometry(entry, "oscar")  # [K, 6]
    """

    def __init__(self, source: str | Path | Sequence[str | Path]) -> None:
        self.paths = resolve_store_paths(source)
        self._shards: list[_Shard] = []
        self._location: dict[str, tuple[int, int]] = {}
        self._ids: list[str] = []
        self.label_names: list[str] = []
        self.attribute_names: list[str] = []
        label_index: dict[str, int] = {}
        attribute_index: dict[str, int] = {}
        self.feature_dim = -1
        self.max_attributes_per_region = 0
        for shard_index, path in enumerate(self.paths):
            with open_h5(path, "r") as f:
                self._index_shard(f, path, shard_index, label_index, attribute_index)
        self._handles: dict[int, h5py.File] = {}
        # h5py resolves a dataset by name on every `file[name]`, which costs more than reading a small slice: keep the
        # resolved column objects of each open shard.
        self._columns: dict[int, dict[str, h5py.Dataset]] = {}
        self._pid = os.getpid()

    def _index_shard(
        self, f: h5py.File, path: Path, shard_index: int, label_index: dict[str, int], attribute_index: dict[str, int]
    ) -> None:
        validate_schema(f, path)
        dim = int(f.attrs[S.ATTR_FEATURE_DIM])
        if self.feature_dim not in (-1, dim):
            raise RegionStoreError(
                f"{path}: feature dimension mismatch, {dim}-d features where {self.paths[0]} holds {self.feature_dim}-d"
            )
        self.feature_dim = dim
        self.max_attributes_per_region = max(self.max_attributes_per_region, int(f.attrs[S.ATTR_MAX_ATTRIBUTES]))
        num_images = int(f.attrs[S.ATTR_COMMITTED_IMAGES])
        num_regions = int(f.attrs[S.ATTR_COMMITTED_REGIONS])
        try:
            ids = read_strings(f, S.IMAGE_IDS, num_images)
            offsets = f[S.OFFSETS][: num_images + 1]
            sizes = f[S.IMAGE_SIZE][:num_images]
        except (OSError, ValueError) as error:
            message = f"{path}: cannot read the image index (truncated or corrupt file?): {error}"
            raise RegionStoreError(message) from error
        if len(ids) != num_images or len(offsets) != num_images + 1 or int(offsets[-1]) != num_regions:
            raise RegionStoreError(f"{path}: the image index is shorter than its committed counters (truncated file?)")
        _check_offsets(f, path, ids, offsets)
        for row, image_id in enumerate(ids):
            if image_id in self._location:
                other = self.paths[self._location[image_id][0]]
                raise RegionStoreError(f"{path}: duplicate image id {image_id!r}, also in {other}")
            self._location[image_id] = (shard_index, row)
        self._ids.extend(ids)
        labels = read_vocabulary(f, S.LABEL_NAMES, S.ATTR_COMMITTED_LABELS)
        attributes = read_vocabulary(f, S.ATTRIBUTE_NAMES, S.ATTR_COMMITTED_ATTRIBUTES)
        self._shards.append(
            _Shard(
                path=path,
                offsets=offsets.astype(np.int64),
                image_size=sizes.astype(np.int32),
                label_map=_unify(labels, self.label_names, label_index),
                attribute_map=_unify(attributes, self.attribute_names, attribute_index),
                provenance=_provenance(f, path),
                has_attributes=int(f.attrs[S.ATTR_MAX_ATTRIBUTES]) > 0,
            )
        )

    # ------------------------------------------------------------------ index
    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, image_id: object) -> bool:
        return str(image_id) in self._location

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    @property
    def image_ids(self) -> list[str]:
        """All image ids, shard by shard in write order."""
        return list(self._ids)

    @property
    def provenance(self) -> dict[str, Any]:
        """The extraction provenance of the first shard (see `provenances` for every shard)."""
        return self._shards[0].provenance

    @property
    def provenances(self) -> list[dict[str, Any]]:
        return [shard.provenance for shard in self._shards]

    @property
    def has_attributes(self) -> bool:
        """Whether every shard holds region attributes (otherwise entries of some images have none)."""
        return all(shard.has_attributes for shard in self._shards)

    def num_regions(self, image_id: str | int) -> int:
        _, _, start, end = self._span(image_id)
        return end - start

    def image_size(self, image_id: str | int) -> tuple[int, int]:
        shard_index, row = self._locate(image_id)
        height, width = self._shards[shard_index].image_size[row]
        return int(height), int(width)

    def _locate(self, image_id: str | int) -> tuple[int, int]:
        key = str(image_id)
        if key not in self._location:
            raise KeyError(f"image id {key!r} is not in the region store {', '.join(map(str, self.paths))}")
        return self._location[key]

    def _span(self, image_id: str | int) -> tuple[int, int, int, int]:
        """(shard index, row in the shard, first region row, end region row) of an image."""
        shard_index, row = self._locate(image_id)
        offsets = self._shards[shard_index].offsets
        return shard_index, row, int(offsets[row]), int(offsets[row + 1])

    # ------------------------------------------------------------------ data
    def __getitem__(self, image_id: str | int) -> RegionEntry:
        """The regions of one image; integer ids are looked up as their decimal string."""
        shard_index, row, start, end = self._span(image_id)
        shard = self._shards[shard_index]
        columns = self._open_columns(shard_index)
        key = str(image_id)
        try:
            features = columns[S.FEATURES][start:end]
            boxes = columns[S.BOXES][start:end]
            scores = columns[S.SCORES][start:end]
            labels = self._labels(columns, shard, key, start, end)
            attributes = attribute_scores = attribute_names = None
            if self.max_attributes_per_region:
                attributes, attribute_scores = self._read_attributes(columns, shard, key, start, end)
                attribute_names = [[self.attribute_names[a] for a in row_ids if a >= 0] for row_ids in attributes]
        except OSError as error:
            raise _unreadable(shard, key, "regions", error) from error
        # The writer refuses non-finite values; one read back means the file changed since (or another tool wrote it).
        if not (all_finite(features) and all_finite(boxes)):
            raise RegionStoreError(f"{shard.path}: image {key!r}: non-finite region features or boxes (corrupt store?)")
        height, width = shard.image_size[row]
        return RegionEntry(
            image_id=key,
            image_size=(int(height), int(width)),
            features=features,
            boxes=boxes,
            scores=scores,
            labels=labels.astype(np.int32),
            label_names=[self.label_names[i] for i in labels],
            attributes=attributes,
            attribute_scores=attribute_scores,
            attribute_names=attribute_names,
        )

    def label_names_of(self, image_id: str | int) -> list[str]:
        """The label name of each region of one image, in store order, read without the features (Oscar's tags)."""
        shard_index, _, start, end = self._span(image_id)
        shard = self._shards[shard_index]
        try:
            labels = self._labels(self._open_columns(shard_index), shard, str(image_id), start, end)
        except OSError as error:
            raise _unreadable(shard, str(image_id), "labels", error) from error
        return [self.label_names[i] for i in labels]

    @staticmethod
    def _labels(columns: dict[str, h5py.Dataset], shard: _Shard, image_id: str, start: int, end: int) -> np.ndarray:
        """[K] the label ids of regions `start:end` of a shard in the store vocabulary, checked against the shard's."""
        raw = columns[S.LABELS][start:end]
        _out_of_range(shard, image_id, "label", raw, len(shard.label_map))
        return shard.label_map[raw]

    def _read_attributes(
        self, columns: dict[str, h5py.Dataset], shard: _Shard, image_id: str, start: int, end: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """[K, A] attribute ids in the store vocabulary and their scores, padded to the widest shard's A."""
        slots = self.max_attributes_per_region
        ids = np.full((end - start, slots), -1, dtype=np.int32)
        scores = np.zeros((end - start, slots), dtype=np.float32)
        if shard.has_attributes:
            raw = columns[S.ATTRIBUTES][start:end]
            _out_of_range(shard, image_id, "attribute", raw, len(shard.attribute_map), low=-1)
            ids[:, : raw.shape[1]] = np.where(raw >= 0, shard.attribute_map[np.maximum(raw, 0)], -1)
            scores[:, : raw.shape[1]] = columns[S.ATTRIBUTE_SCORES][start:end]
        return ids, scores

    @staticmethod
    def geometry(entry: RegionEntry, style: str = "oscar") -> np.ndarray:
        """[K, 6] (oscar) or [K, 7] (uniter) box geometry of an entry; see `vlp.store.geometry.box_geometry`."""
        from vlp.store.geometry import box_geometry

        return box_geometry(entry.boxes, entry.image_size, style)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ handles
    def _open_columns(self, shard_index: int) -> dict[str, h5py.Dataset]:
        """The region columns of a shard, opening the file in this process on first use."""
        if self._pid != os.getpid():  # forked into a worker: the parent's handles are not ours to use
            self._handles, self._columns, self._pid = {}, {}, os.getpid()
        if shard_index not in self._columns:
            f = open_h5(self._shards[shard_index].path, "r")
            self._handles[shard_index] = f
            names = [S.FEATURES, S.BOXES, S.SCORES, S.LABELS]
            if self._shards[shard_index].has_attributes:
                names += [S.ATTRIBUTES, S.ATTRIBUTE_SCORES]
            self._columns[shard_index] = {name: f[name] for name in names}
        return self._columns[shard_index]

    def close(self) -> None:
        """Closes the files this process opened; the store reopens them on the next access."""
        for handle in self._handles.values():
            handle.close()
        self._handles, self._columns = {}, {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"], state["_columns"] = {}, {}
        return state

    def __enter__(self) -> RegionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _unify(names: list[str], store_names: list[str], store_index: dict[str, int]) -> np.ndarray:
    """Maps a shard's vocabulary into the store's, adding names the store has not seen yet."""
    for name in names:
        if name not in store_index:
            store_index[name] = len(store_names)
            store_names.append(name)
    return np.array([store_index[name] for name in names], dtype=np.int32)
