"""The failures file of a shard: one JSON line per image that could not be decoded, with its reason.

It lies next to the shard it belongs to (`feats.h5` -> `feats.failures.jsonl`, `feats.00001-of-00004.h5` ->
`feats.00001-of-00004.failures.jsonl`) and is started afresh by every run: a resumed run retries every image that is
not in the store yet, so its failures file lists exactly the images still missing from the store when it ends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from features.decode import DecodeFailure


def failures_path(shard_file: str | Path) -> Path:
    """The failures file that belongs to a shard file."""
    shard_file = Path(shard_file)
    return shard_file.with_name(f"{shard_file.stem}.failures.jsonl")


class FailureLog:
    """Appends failures to a JSONL file, flushed line by line so that a killed run leaves a readable file.

    Args:
        path: the file; truncated when the log is opened.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(self.path, "w")  # noqa: SIM115  (held open for the run)
        self.count = 0

    def record(self, failure: DecodeFailure) -> None:
        line = {"image_id": failure.image_id, "path": failure.path, "reason": failure.reason}
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        self.count += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> FailureLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_failures(path: str | Path) -> list[dict[str, str]]:
    """The entries of a failures file (`image_id`, `path`, `reason`)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
