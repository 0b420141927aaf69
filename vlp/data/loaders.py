"""DataLoaders and the bucketing training sampler, as the pretraining and finetuning data modules build them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader, Dataset

from vlp.data.sampler import LengthGroupedSampler


def trainer_world(trainer: Trainer | None) -> tuple[int, int]:
    """(number of processes, this process's rank) of a trainer; (1, 0) without one."""
    return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)


def length_grouped_sampler(
    lengths: Sequence[int], batch_size: int, group_batches: int, trainer: Trainer | None
) -> LengthGroupedSampler:
    """A `LengthGroupedSampler` that splits each epoch over the trainer's processes."""
    replicas, rank = trainer_world(trainer)
    return LengthGroupedSampler(
        lengths,
        batch_size,
        num_replicas=replicas,
        rank=rank,
        # The global seed (`seed_everything`), the same on every process, so that they split one permutation.
        seed=torch.initial_seed() % 2**63,
        group_batches=group_batches,
    )


def data_loader(
    dataset: Dataset,
    batch_size: int,
    collate_fn: Callable[[list[Any]], Any],
    num_workers: int,
    pin_memory: bool,
    **kwargs: object,
) -> DataLoader:
    """A DataLoader whose worker processes, if any, live from epoch to epoch; `kwargs` go to the DataLoader."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        collate_fn=collate_fn,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=pin_memory,
        **kwargs,  # type: ignore[arg-type]
    )
