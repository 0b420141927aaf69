"""Streaming reads of the tab-separated dumps that BUTD, LXMERT, Oscar and VinVL published.

Their writers put base64 arrays, numbers and JSON in tab-separated fields without quoting (csv's QUOTE_MINIMAL never
quotes these characters; Oscar's `tsv_writer` joins with tabs). So a row is read as one line split on tabs, in binary
mode: no `csv.field_size_limit` to raise for multi-megabyte fields, and no line held longer than it is needed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

COUNT_BLOCK = 1 << 24


class TsvFormatError(ValueError):
    """A row that does not have the layout expected; the message names the file and the line."""


def count_rows(paths: Sequence[str | Path]) -> int:
    """Number of non-empty lines of the files (for progress), reading them in blocks with constant memory."""
    rows = 0
    for path in paths:
        with open(path, "rb") as f:
            last = b"\n"
            for block in iter(lambda f=f: f.read(COUNT_BLOCK), b""):
                rows += block.count(b"\n")
                last = block[-1:]
            rows += last != b"\n"  # a last line without a newline
    return rows


def iter_rows(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(line number from 1, fields) of every non-empty line of a TSV file, one line in memory at a time.

    Raises:
        TsvFormatError: naming the line, for a line that is not UTF-8 text.
    """
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            try:
                yield number, [_unquote(field.decode("utf-8")) for field in line.split(b"\t")]
            except UnicodeDecodeError as error:
                raise TsvFormatError(
                    f"{path}:{number}: not UTF-8 text ({error.reason} at byte {error.start} of a field)"
                ) from error


def _unquote(field: str) -> str:
    """A csv-quoted field (`"a""b"`) as its text, for files written by a csv writer with quoting."""
    if len(field) >= 2 and field[0] == field[-1] == '"':
        return field[1:-1].replace('""', '"')
    return field


def decode_array(text: str, dtype: type, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A base64 field as an array of `shape` (one dimension may be -1).

    Raises:
        TsvFormatError: naming `where`, for invalid base64 or a size that does not fit `shape`.
    """
    try:
        flat = np.frombuffer(base64.b64decode(text, validate=False), dtype=dtype)
        return flat.reshape(shape).copy()  # frombuffer views the decoded bytes read-only; the store wants its own array
    except (binascii.Error, ValueError) as error:
        raise TsvFormatError(
            f"{where}: cannot decode a {np.dtype(dtype).name} array of shape {shape}: {error}"
        ) from error


def sources_provenance(paths: Sequence[str | Path]) -> list[dict[str, object]]:
    """Names and sizes of the dump files (hashing tens of gigabytes would cost as much as the import)."""
    return [{"file": Path(p).name, "bytes": Path(p).stat().st_size} for p in paths]
