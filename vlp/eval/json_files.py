"""Reading the JSON files of the official evaluations (VQA, COCO captions) with errors that name the file and the
entry at fault."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class FormatError(ValueError):
    """A file that is not in its benchmark's official format, or files that do not belong together."""


def load_json(path: Path) -> Any:
    """The content of a JSON file.

    Raises:
        FormatError: if the file is missing or is not valid JSON.
    """
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(f"{path} is not valid JSON: {error}") from None


def entries(path: Path, content: Any, key: str | None, layout: str, kind: str = "VQA") -> list[dict[str, Any]]:
    """The list of objects at `content[key]`, or `content` itself when `key` is None (a results file).

    Raises:
        FormatError: naming the file and the first entry that is not an object.
    """
    if key is not None:
        content = content.get(key) if isinstance(content, dict) else None
    name = key or "results"
    if not isinstance(content, list):
        raise FormatError(f"{path} is not a {kind} {name} file: expected {layout}")
    for index, entry in enumerate(content):
        if not isinstance(entry, dict):
            raise FormatError(f"{path}: {name}[{index}] is {entry!r}, expected an object as in {layout}")
    return content


def field(path: Path, where: str, entry: dict[str, Any], name: str, kind: type) -> Any:
    """`entry[name]`, checked to be a `kind` (booleans are not integers here).

    Raises:
        FormatError: naming the file, the entry (`where`) and the field.
    """
    if name not in entry:
        raise FormatError(f"{path}: {where} has no {name!r}")
    value = entry[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise FormatError(f"{path}: {where} has {name} {value!r}, expected {kind.__name__}")
    return value


def quote_ids(ids: Sequence[int], limit: int = 5) -> str:
    """Ids for a message: the first `limit`, and how many more."""
    shown = ", ".join(str(value) for value in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
