"""Crash-safe string columns: a group holding the UTF-8 bytes of all strings back to back and their end offsets.

HDF5 variable-length strings live in a global heap that a killed writer can leave inconsistent ("bad heap index"), so
image ids and vocabularies are stored like the regions themselves: flat, uncompressed, chunked arrays that a resumed
writer can truncate. A column `name` is the group `name/` with `utf8` [C] uint8 and `ends` [N] int64 (string i is
`utf8[ends[i-1]:ends[i]]`).
"""

from __future__ import annotations

from collections.abc import Sequence

import h5py
import numpy as np

CHUNK_BYTES = 1 << 16
CHUNK_STRINGS = 4096


def create_string_column(f: h5py.File, name: str) -> None:
    group = f.create_group(name)
    group.create_dataset("utf8", shape=(0,), dtype=np.uint8, chunks=(CHUNK_BYTES,), maxshape=(None,))
    group.create_dataset("ends", shape=(0,), dtype=np.int64, chunks=(CHUNK_STRINGS,), maxshape=(None,))


def append_strings(f: h5py.File, name: str, strings: Sequence[str], start: int) -> None:
    """Writes `strings` as entries `start, start + 1, ...` of the column, dropping anything stored past `start`."""
    group = f[name]
    first_byte = int(group["ends"][start - 1]) if start else 0
    encoded = [s.encode("utf-8") for s in strings]
    ends = first_byte + np.cumsum([len(b) for b in encoded], dtype=np.int64)
    group["ends"].resize(start + len(encoded), axis=0)
    group["ends"][start:] = ends
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    group["utf8"].resize(first_byte + len(data), axis=0)
    group["utf8"][first_byte:] = data


def truncate_strings(f: h5py.File, name: str, count: int) -> None:
    """Keeps the first `count` strings of the column."""
    group = f[name]
    group["ends"].resize(count, axis=0)
    group["utf8"].resize(int(group["ends"][count - 1]) if count else 0, axis=0)


def read_strings(f: h5py.File, name: str, count: int) -> list[str]:
    """The first `count` strings of the column (raises `ValueError` when fewer are stored)."""
    group = f[name]
    ends = group["ends"][:count]
    if len(ends) != count:
        raise ValueError(f"{name} holds {len(ends)} strings, fewer than {count}")
    data = group["utf8"][: int(ends[-1]) if count else 0].tobytes()
    starts = np.concatenate([[0], ends])[:-1]
    return [data[s:e].decode("utf-8") for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
