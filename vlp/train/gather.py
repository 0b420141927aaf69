"""Rows of results from every process, gathered through the strategy's `all_gather` (`LightningModule.all_gather`).

Each process evaluates or predicts its own share of the examples; all-gather needs equal shapes, so each share is
padded to the largest first. Tensors rather than Python objects keep the gather on the strategy's own collective
(NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

AllGather = Callable[[torch.Tensor], torch.Tensor]


def gather_padded(tensor: torch.Tensor, all_gather: AllGather, pad: float | bool = 0) -> torch.Tensor:
    """Every process's `tensor` [N, ...] concatenated along the first axis, process by process.

    N and every other size may differ between processes: the other axes come back padded with `pad` to the largest.

    Args:
        tensor: [N, ...] this process's part (N may be 0).
        all_gather: gathers a tensor of the same shape on every process into [P, ...]; returns it unchanged (no
            leading process axis) in a single process, like `LightningModule.all_gather`.
        pad: the filler of the padding.

    Returns:
        [sum of N, ...] on `tensor`'s device.
    """
    shape = torch.tensor(tensor.shape, device=tensor.device)
    shapes = all_gather(shape).reshape(-1, tensor.dim())
    if shapes.shape[0] == 1:
        return tensor
    largest = shapes.max(dim=0).values.tolist()
    padding = [
        side for have, want in zip(reversed(tensor.shape), reversed(largest), strict=True) for side in (0, want - have)
    ]
    padded = (
        F.pad(tensor, padding, value=pad)
        if tensor.dtype != torch.bool
        else F.pad(tensor.byte(), padding, value=int(pad)).bool()
    )
    gathered = all_gather(padded)
    return torch.cat([gathered[process, : int(count)] for process, count in enumerate(shapes[:, 0].tolist())])


def gather_rows(rows: torch.Tensor, all_gather: AllGather, pad: int = -1) -> torch.Tensor:
    """Every process's rows [N, K] (N may differ between processes, and be 0), process by process: [sum of N, K] on
    the CPU on every process."""
    return gather_padded(rows, all_gather, pad).cpu()
