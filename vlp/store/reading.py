"""Low-level helpers shared by the region-store reader and writer: opening files and checking their schema."""

from __future__ import annotations

from pathlib import Path

import h5py

from vlp.store import schema as S
from vlp.store.schema import RegionStoreError
from vlp.store.strings import read_strings


def open_h5(path: Path, mode: str) -> h5py.File:
    """Opens an HDF5 file, turning HDF5's low-level errors into a `RegionStoreError` that names the file.

    HDF5's own file locking is off: readers may inspect a store while an extraction still appends to it (the committed
    counters keep them from seeing a half-written image), and writers hold a lock of their own
    (`vlp.store.writer`) whose error message says what is going on.
    """
    if not path.exists():
        raise RegionStoreError(f"{path}: region store not found")
    if path.stat().st_size == 0:
        raise RegionStoreError(f"{path}: empty file, not a region store")
    try:
        return h5py.File(path, mode, locking=False)
    except OSError as error:
        raise RegionStoreError(f"{path}: cannot open as HDF5 (truncated or corrupt file?): {error}") from error


def validate_schema(f: h5py.File, path: Path) -> None:
    """Raises unless `f` is a region store of a schema version this code reads."""
    name = f.attrs.get(S.ATTR_SCHEMA)
    if name != S.SCHEMA_NAME:
        raise RegionStoreError(f"{path}: not a vlp region store (schema {name!r}, expected {S.SCHEMA_NAME!r})")
    version = int(f.attrs.get(S.ATTR_VERSION, -1))
    if version != S.SCHEMA_VERSION:
        raise RegionStoreError(
            f"{path}: region store schema version {version} is not supported (this vlp reads {S.SCHEMA_VERSION})"
        )
    missing = [n for n in (*S.PER_IMAGE, S.OFFSETS, *S.PER_REGION_REQUIRED, S.LABEL_NAMES) if n not in f]
    if missing:
        raise RegionStoreError(f"{path}: region store is missing dataset(s) {', '.join(missing)}")


def read_vocabulary(f: h5py.File, column: str, counter: str) -> list[str]:
    """The committed part of a name vocabulary."""
    return read_strings(f, column, int(f.attrs[counter]))
