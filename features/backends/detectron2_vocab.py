"""The class and attribute names of a detector, from the vocabulary files its weights were published with."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path


def read_names(source: str | Sequence[str], json_key: str) -> list[str]:
    """Names by class index, background excluded.

    Args:
        source: a list of names; a text file with one name per line (bottom-up-attention's `objects_vocab.txt`,
            `attributes_vocab.txt`; blank lines are skipped); or a VinVL label map json (`VG-SGG-dicts-*.json`),
            whose `json_key` maps each name to its 1-based index.
        json_key: "label_to_idx" for objects, "attribute_to_idx" for attributes.

    Raises:
        ValueError: a json whose indices are not 1..N.
    """
    if not isinstance(source, str):
        return [str(name) for name in source]
    path = Path(source)
    if path.suffix == ".json":
        indices = json.loads(path.read_text(encoding="utf-8"))[json_key]
        by_index = sorted((int(index), name) for name, index in indices.items())
        if [index for index, _ in by_index] != list(range(1, len(by_index) + 1)):
            raise ValueError(f"{path}: {json_key} indices are not 1..{len(by_index)}")
        return [name for _, name in by_index]
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def names_digest(names: Sequence[str]) -> str:
    """sha256 of the names, one per line: identifies a vocabulary in provenance without repeating it."""
    return hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()
