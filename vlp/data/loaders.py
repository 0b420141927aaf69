"""Loader settings every data module takes, and the DataLoaders and samplers they build from them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, Sampler

from vlp.data.sampler import LengthGroupedSampler


@dataclass(frozen=True)
class LoaderSettings:
    """How a data module batches and loads, the same for pretraining and every finetuning task.

    ```yaml
    data:
      init_args:
        loader: {batch_size: 64, eval_batch_size: 256, num_workers: 4, pin_memory: true}
    ```

    Attributes:
        batch_size: training examples per batch and process.
        eval_batch_size: examples per validation, test and prediction batch; `batch_size` when None.
        num_workers: DataLoader worker processes per process (each opens the region stores itself).
        bucket: group training batches by length (`LengthGroupedSampler`), which pads less.
        group_batches: batches per length-sorted group when bucketing.
        pin_memory: pin batches for faster host-to-GPU copies.
    """

    batch_size: int = 32
    eval_batch_size: int | None = None
    num_workers: int = 2
    bucket: bool = True
    group_batches: int = 50
    pin_memory: bool = False

    def __post_init__(self) -> None:
        errors = [
            f"{name} must be positive, got {value}"
            for name, value in (
                ("batch_size", self.batch_size),
                ("eval_batch_size", self.eval_batch_size),
                ("group_batches", self.group_batches),
            )
            if value is not None and value < 1
        ]
        if self.num_workers < 0:
            errors.append(f"num_workers must not be negative, got {self.num_workers}")
        if errors:
            raise ValueError(f"loader: {'; '.join(errors)}")

    @property
    def evaluation_batch_size(self) -> int:
        """Examples per evaluation batch."""
        return self.eval_batch_size or self.batch_size


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
    settings: LoaderSettings,
    **kwargs: object,
) -> DataLoader:
    """A DataLoader whose worker processes, if any, live from epoch to epoch; `kwargs` go to the DataLoader."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        collate_fn=collate_fn,
        num_workers=settings.num_workers,
        persistent_workers=settings.num_workers > 0,
        pin_memory=settings.pin_memory,
        **kwargs,  # type: ignore[arg-type]
    )


def train_loader(
    dataset: Dataset,
    collate_fn: Callable[[list[Any]], Any],
    settings: LoaderSettings,
    lengths: Callable[[], Sequence[int]],
    trainer: Trainer | None,
) -> DataLoader:
    """The training DataLoader: length-bucketed batches split over the trainer's processes when `settings.bucket`,
    shuffled full batches otherwise. `lengths` gives each example's rough length (only called when bucketing)."""
    if not settings.bucket:
        return data_loader(dataset, settings.batch_size, collate_fn, settings, shuffle=True, drop_last=True)
    sampler = length_grouped_sampler(lengths(), settings.batch_size, settings.group_batches, trainer)
    return data_loader(dataset, settings.batch_size, collate_fn, settings, sampler=sampler)


def unrepeated_sampler(dataset: Dataset, trainer: Trainer | None) -> Sampler[int] | None:
    """Each process evaluates a disjoint share of the examples, none twice, so that synchronised metrics are the
    single-process ones (Lightning's default sampler pads with repeated examples); None on one process."""
    replicas, rank = trainer_world(trainer)
    if replicas == 1:
        return None
    return UnrepeatedDistributedSampler(dataset, num_replicas=replicas, rank=rank, shuffle=False)


def eval_loader(
    dataset: Dataset,
    collate_fn: Callable[[list[Any]], Any],
    settings: LoaderSettings,
    trainer: Trainer | None,
    unrepeated: bool = True,
) -> DataLoader:
    """An evaluation DataLoader in dataset order; `unrepeated` splits it without repeats over the trainer's processes
    (prediction leaves that to Lightning)."""
    sampler = unrepeated_sampler(dataset, trainer) if unrepeated else None
    return data_loader(dataset, settings.evaluation_batch_size, collate_fn, settings, sampler=sampler)
