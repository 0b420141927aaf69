"""Progress of a shard: a tqdm bar on a terminal, log lines elsewhere (cluster logs), with images/s and time left."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Literal, TextIO

from tqdm import tqdm

ProgressMode = Literal["auto", "bar", "log", "none"]


class Progress:
    """Reports images handled (extracted or failed) out of the total given to `start`.

    Args:
        label: prefix naming the shard, e.g. "shard 1/4".
        mode: "bar" (tqdm), "log" (a line every `log_every_s` seconds), "none", or "auto" (bar on a terminal, else log).
        log_every_s: seconds between log lines (0: a line after every batch).
        position: tqdm line of this bar when several processes share a terminal.
        stream: where to write.
    """

    def __init__(
        self,
        label: str,
        mode: ProgressMode = "auto",
        log_every_s: float = 30.0,
        position: int = 0,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "log"
        self.mode, self.label, self.log_every_s, self.position = mode, label, log_every_s, position
        self.total = self.done = self.failed = 0
        self._start = self._last_log = time.perf_counter()
        self._bar: tqdm | None = None

    def start(self, total: int) -> None:
        """Starts the clock for `total` images."""
        self.total, self.done, self.failed = total, 0, 0
        self._start = self._last_log = time.perf_counter()
        if self.mode == "bar":
            self._bar = tqdm(
                total=total, desc=self.label, unit="img", position=self.position, file=self.stream, dynamic_ncols=True
            )

    def update(self, extracted: int, failed: int) -> None:
        """Counts one batch: `extracted` images written to the store, `failed` images sent to the failures file."""
        self.done += extracted + failed
        self.failed += failed
        if self._bar is not None:
            self._bar.update(extracted + failed)
            if failed:
                self._bar.set_postfix(failed=self.failed)
        elif self.mode == "log":
            now = time.perf_counter()
            if now - self._last_log >= self.log_every_s or self.done == self.total:
                self._last_log = now
                print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        """`shard 0/1: 12/40 images (1 failed), 3.1 img/s, 0:00:09 left`."""
        elapsed = time.perf_counter() - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = timedelta(seconds=round((self.total - self.done) / rate)) if rate > 0 else "?"
        return f"{self.label}: {self.done}/{self.total} images ({self.failed} failed), {rate:.1f} img/s, {left} left"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
