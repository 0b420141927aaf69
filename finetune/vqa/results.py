"""Predicted answers from every process, put back in dataset order for one results file.

Each process answers its own share of the questions (Lightning's prediction sampler deals them out without repeats,
but a custom sampler may repeat some to even out processes). The shares are gathered as tensors
(`vlp.train.gather.gather_rows`); process 0 then writes the file.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vlp.train.gather import gather_rows


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
    rows = gather_rows(torch.stack([index, question_ids, classes], dim=1), all_gather)
    pairs: dict[int, tuple[int, int]] = {}
    for position, question_id, answer in rows[torch.argsort(rows[:, 0], stable=True)].tolist():
        pairs.setdefault(position, (question_id, answer))
    return list(pairs.values())
