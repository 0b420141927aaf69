"""The one place for distributed helpers: process rank and count, and an all-gather that carries gradients.

Everything here degrades to the single-process case when `torch.distributed` is unavailable or not initialised, so
objectives call these helpers unconditionally.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist


def is_initialized() -> bool:
    """Whether a default process group exists (False on builds without distributed support)."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes in the default group; 1 when not initialised."""
    return dist.get_world_size() if is_initialized() else 1


def rank() -> int:
    """This process's rank in the default group; 0 when not initialised."""
    return dist.get_rank() if is_initialized() else 0


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward hands each rank the summed gradient of its own slice."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        ctx.batch = tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        # Every rank's loss may depend on every rank's rows, so the gradient of a row is the sum over ranks of what
        # each rank's backward produced for it. All-reduce then slice rather than reduce-scatter: gloo has no
        # reduce-scatter, and the tensors gathered here (pooled embeddings) are small.
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = rank() * ctx.batch
        return grad[start : start + ctx.batch]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenates every process's `tensor` along dim 0, keeping the autograd graph to this process's part.

    Rows of other processes enter the result as constants in this process's graph; their gradients reach them through
    the all-reduce in backward, on their own process. With a loss that is the mean over this process's rows and DDP's
    averaging of parameter gradients over processes, the result equals one process holding the global batch (see
    `tests/distributed`).

    Args:
        tensor: [B, ...], with the same shape on every process (all-gather needs equal sizes).

    Returns:
        [world_size * B, ...], rank r's rows at `r * B : (r + 1) * B`; `tensor` itself when not initialised or alone.
    """
    if world_size() == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)
