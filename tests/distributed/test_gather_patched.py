"""`vlp.distributed` with the collectives patched: a fake rank 1 of 2 whose peer holds other rows."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from vlp import distributed
from vlp.distributed import gather_with_grad

PEER_OFFSET = 100.0


@pytest.fixture
def rank_one_of_two(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Pretends to be rank 1 of 2: rank 0 holds this rank's tensor plus 100, and sends back the same gradient."""
    calls: dict[str, list] = {"all_gather": [], "all_reduce": []}

    def all_gather(parts: list[torch.Tensor], tensor: torch.Tensor) -> None:
        calls["all_gather"].append(tensor.shape)
        parts[0].copy_(tensor + PEER_OFFSET)
        parts[1].copy_(tensor)

    def all_reduce(tensor: torch.Tensor, op=None) -> None:
        calls["all_reduce"].append(op)
        tensor.mul_(2)  # both ranks produced the same gradient: their sum is twice it

    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 1)
    monkeypatch.setattr(dist, "all_gather", all_gather)
    monkeypatch.setattr(dist, "all_reduce", all_reduce)
    return calls


def test_helpers_without_a_process_group() -> None:
    assert distributed.world_size() == 1 and distributed.rank() == 0
    tensor = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(tensor) is tensor


def test_gather_concatenates_in_rank_order(rank_one_of_two: dict[str, list]) -> None:
    assert distributed.world_size() == 2 and distributed.rank() == 1
    tensor = torch.arange(6.0).reshape(3, 2)
    gathered = gather_with_grad(tensor)
    assert gathered.shape == (6, 2)
    torch.testing.assert_close(gathered[:3], tensor + PEER_OFFSET)
    torch.testing.assert_close(gathered[3:], tensor)
    assert rank_one_of_two["all_gather"] == [torch.Size([3, 2])]


def test_backward_returns_this_ranks_slice_of_the_summed_gradient(rank_one_of_two: dict[str, list]) -> None:
    tensor = torch.randn(3, 4, 2, requires_grad=True)
    weights = torch.randn(6, 4, 2)
    (gather_with_grad(tensor) * weights).sum().backward()
    # This rank's rows are rows 3..5 of the gathered tensor; the peer contributed the same gradient again.
    torch.testing.assert_close(tensor.grad, 2 * weights[3:])
    assert rank_one_of_two["all_reduce"] == [dist.ReduceOp.SUM]
