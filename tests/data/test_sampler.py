"""Length bucketing under DDP: disjoint whole batches of similar length, the same count on every process."""

from __future__ import annotations

import torch

from vlp.data import LengthGroupedSampler


def test_processes_split_one_epoch_into_whole_similar_batches():
    lengths = torch.randint(1, 80, (203,), generator=torch.Generator().manual_seed(0)).tolist()
    samplers = [LengthGroupedSampler(lengths, 8, num_replicas=3, rank=r, seed=5, group_batches=4) for r in range(3)]
    orders = [list(sampler) for sampler in samplers]
    assert {len(order) for order in orders} == {len(samplers[0])} == {203 // 8 // 3 * 8}
    flat = [index for order in orders for index in order]
    assert len(set(flat)) == len(flat)
    spread = [
        max(lengths[i] for i in order[k : k + 8]) - min(lengths[i] for i in order[k : k + 8])
        for order in orders
        for k in range(0, len(order), 8)
    ]
    assert sum(spread) / len(spread) < 20  # sorted within groups of 32: far below the ~55 of random batches


def test_set_epoch_reshuffles_and_the_seed_reproduces():
    lengths = list(range(64))
    sampler = LengthGroupedSampler(lengths, 4, seed=1)
    first = list(sampler)
    assert list(LengthGroupedSampler(lengths, 4, seed=1)) == first
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(sampler) == sorted(first)
