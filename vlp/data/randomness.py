"""Where a collate's random draws come from, the same for every task that corrupts its batches.

In training, one stream per process: seeded once per DataLoader worker from the worker's seed (which Lightning's
`seed_everything(workers=True)` derives from the global seed, the worker and the process rank), and once per process
without workers, so runs with the same seed and worker count corrupt the same batches. In evaluation (`fixed`), each
batch is seeded from its dataset indices, so every validation pass sees the same corruption and losses compare across
epochs.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence

import numpy as np
import torch

from vlp import distributed


class BatchRandomness:
    """The generator of each batch a collate builds.

    Args:
        fixed: seed each batch from its indices (evaluation) rather than from a per-worker stream (training).
    """

    def __init__(self, fixed: bool = False) -> None:
        self.fixed = fixed
        self._stream: torch.Generator | None = None
        self._stream_key: tuple[int, int] | None = None

    def __call__(self, indices: Sequence[int]) -> torch.Generator:
        """The random stream for a batch of these dataset indices; call it once per batch."""
        if self.fixed:
            return torch.Generator().manual_seed(zlib.crc32(np.asarray(indices, dtype=np.int64).tobytes()))
        # A new worker process (or an epoch's new workers, which get new seeds) starts a new stream.
        key = (os.getpid(), torch.initial_seed())
        if self._stream is None or self._stream_key != key:
            seed = (torch.initial_seed() + 1_000_003 * distributed.rank()) % 2**63
            self._stream, self._stream_key = torch.Generator().manual_seed(seed), key
        return self._stream
