"""Predictions gathered from several processes, with the collective patched: dataset order, each question once."""

from __future__ import annotations

import torch

from finetune.vqa.results import gather_predictions


def test_single_process_keeps_dataset_order() -> None:
    index = torch.tensor([2, 0, 1])
    pairs = gather_predictions(index, torch.tensor([30, 10, 20]), torch.tensor([5, 6, 7]), lambda tensor: tensor)
    assert pairs == [(10, 6), (20, 7), (30, 5)]


def test_two_processes_with_uneven_shares_and_a_repeat() -> None:
    # Process 0 answered dataset rows 0, 2, 4 and process 1 rows 1, 3 and (a sampler's repeat) 0 again.
    shares = [
        (torch.tensor([0, 2, 4]), torch.tensor([100, 102, 104]), torch.tensor([1, 2, 3])),
        (torch.tensor([1, 3, 0]), torch.tensor([101, 103, 100]), torch.tensor([4, 5, 9])),
    ]
    for rank in (0, 1):
        calls: list[int] = []

        def all_gather(tensor: torch.Tensor, rank: int = rank, calls: list[int] = calls) -> torch.Tensor:
            """Stands in for the collective: every process's tensor of this call, built the same way."""
            calls.append(len(calls))
            if len(calls) == 1:  # the shapes: rows and columns
                return torch.stack([torch.tensor([len(share[0]), 3]) for share in shares])
            padded = []
            for share in shares:
                rows = torch.stack(share, dim=1)
                padded.append(torch.cat([rows, torch.full((tensor.shape[0] - rows.shape[0], 3), -1)]))
            assert torch.equal(padded[rank], tensor)
            return torch.stack(padded)

        pairs = gather_predictions(*shares[rank], all_gather)
        assert pairs == [(100, 1), (101, 4), (102, 2), (103, 5), (104, 3)]
