"""Length bucketing that stays correct under DDP: every process gets whole batches of similar lengths."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import DistributedSampler


class LengthGroupedSampler(DistributedSampler):
    """Yields this process's share of an epoch as consecutive runs of `batch_size` indices of similar length.

    Each epoch the dataset is shuffled (from `seed` and the epoch), cut into groups of `group_batches` batches, each
    group sorted by length and cut into batches, and the batches shuffled again; batch k goes to process
    `k % num_replicas`. So a batch pads little, batches of all lengths mix over an epoch, and every process holds the
    same number of whole batches (the few that would not divide evenly, and an incomplete last batch, are dropped).
    Pass it as a DataLoader's `sampler` with the same `batch_size`; being a `DistributedSampler`, Lightning keeps it
    and calls its `set_epoch`.

    Args:
        lengths: [N] a length per example (rough is fine).
        batch_size: examples per batch and process.
        num_replicas: number of processes.
        rank: this process's rank.
        seed: the shuffling seed, the same on every process.
        group_batches: batches per sorted group; larger groups pad less but mix lengths less within an epoch.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
        group_batches: int = 50,
    ) -> None:
        super().__init__(lengths, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)  # type: ignore[arg-type]
        if batch_size < 1 or group_batches < 1:
            raise ValueError("batch_size and group_batches must be positive")
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        self.batch_size, self.group_batches = batch_size, group_batches
        batches = len(self.lengths) // batch_size
        self.batches_per_replica = batches // num_replicas
        if self.batches_per_replica == 0:
            raise ValueError(
                f"{len(self.lengths)} examples make no batch of {batch_size} for each of {num_replicas} processes"
            )

    def batches(self) -> list[torch.Tensor]:
        """This process's batches of the current epoch, in order."""
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator)
        group = self.batch_size * self.group_batches
        batches = []
        for start in range(0, len(order), group):
            members = order[start : start + group]
            members = members[torch.argsort(self.lengths[members], descending=True, stable=True)]
            batches += [members[i : i + self.batch_size] for i in range(0, len(members), self.batch_size)]
        batches = [batch for batch in batches if len(batch) == self.batch_size]
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
        kept = batches[: self.batches_per_replica * self.num_replicas]
        return kept[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        for batch in self.batches():
            yield from batch.tolist()

    def __len__(self) -> int:
        return self.batches_per_replica * self.batch_size
