"""Rows of results from every process, gathered through the strategy's `all_gather` (`LightningModule.all_gather`).

Each process evaluates or predicts its own share of the examples; all-gather needs equal shapes, so each share is
padded to the longest first. Tensors rather than Python objects keep the gather on the strategy's own collective
(NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def gather_rows(rows: torch.Tensor, all_gather: Callable[[torch.Tensor], torch.Tensor], pad: int = -1) -> torch.Tensor:
    """Every process's rows, process by process.

    Args:
        rows: [N, K] this process's rows (N may differ between processes, and be 0).
        all_gather: gathers a tensor of the same shape on every process into [P, ...]; returns it unchanged (no
            leading process axis) in a single process, like `LightningModule.all_gather`.
        pad: the filler of the padding, dropped again.

    Returns:
        [sum of N, K] on every process.
    """
    counts = all_gather(torch.tensor([rows.shape[0]], device=rows.device)).reshape(-1)
    longest = int(counts.max())
    padded = torch.full((longest, rows.shape[1]), pad, dtype=rows.dtype, device=rows.device)
    padded[: rows.shape[0]] = rows
    gathered = all_gather(padded).reshape(-1, longest, rows.shape[1])
    return torch.cat([gathered[process, : int(count)] for process, count in enumerate(counts.tolist())]).cpu()
