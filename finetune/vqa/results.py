"""Predicted answers from every process, put back in dataset order for one results file.

Each process answers its own share of the questions (Lightning's prediction sampler deals them out without repeats,
but a custom sampler may repeat some to even out processes). The shares are all-gathered as tensors, through the
strategy's `all_gather` (`LightningModule.all_gather`), padded to the longest share since all-gather needs equal
shapes; process 0 then writes the file. Tensors rather than Python objects keep the gather on the strategy's own
collective (NCCL on GPUs, gloo on CPUs).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

PAD = -1


def gather_predictions(
    index: torch.Tensor,
    question_ids: torch.Tensor,
    classes: torch.Tensor,
    all_gather: Callable[[torch.Tensor], torch.Tensor],
) -> list[tuple[int, int]]:
    """Every process's predictions, by dataset index, each question once.

    Args:
        index: Long[N] dataset index of each prediction of this process.
        question_ids: Long[N] their question ids.
        classes: Long[N] the predicted answer classes.
        all_gather: gathers a tensor of the same shape on every process into [P, ...]; returns it unchanged (no
            leading process axis) in a single process, like `LightningModule.all_gather`.

    Returns:
        (question id, answer class) pairs in dataset order; a question predicted twice keeps its first prediction.
    """
    rows = torch.stack([index, question_ids, classes], dim=1)
    counts = all_gather(torch.tensor([rows.shape[0]], device=rows.device)).reshape(-1)
    longest = int(counts.max())
    padded = torch.full((longest, 3), PAD, dtype=rows.dtype, device=rows.device)
    padded[: rows.shape[0]] = rows
    gathered = all_gather(padded).reshape(-1, longest, 3)
    rows = torch.cat([gathered[process, : int(count)] for process, count in enumerate(counts.tolist())]).cpu()
    pairs: dict[int, tuple[int, int]] = {}
    for position, question_id, answer in rows[torch.argsort(rows[:, 0], stable=True)].tolist():
        pairs.setdefault(position, (question_id, answer))
    return list(pairs.values())
