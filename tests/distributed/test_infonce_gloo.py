"""Two real processes (gloo, CPU): InfoNCE with gathered embeddings equals one process holding the global batch.

Each rank embeds its slice of a global batch with shared projections, computes `info_nce_loss` with gathering, runs
backward, then averages parameter gradients over ranks as DDP does. Compared with one process computing the loss over
the whole batch:

- the mean of the ranks' losses (and accuracies) is the global loss (accuracy): each rank averages over its own rows;
- the averaged parameter gradients (projections, temperature) are the global gradients;
- a rank's input rows get WORLD times their global gradient before averaging: the gather's backward sums what every
  rank's loss contributes to them, i.e. the gradient of the sum of the ranks' losses, which is WORLD times the global
  mean. DDP's division by WORLD is what brings the parameters back to the global gradient.
"""

from __future__ import annotations

import math
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from vlp.distributed import gather_with_grad
from vlp.objectives.infonce import info_nce_loss

WORLD = 2
BATCH = 3
FEATURES, EMBED = 5, 4


def _problem() -> dict[str, torch.Tensor]:
    """The global batch and the shared parameters, identical in every process."""
    generator = torch.Generator().manual_seed(0)
    text = torch.randn(WORLD * BATCH, FEATURES, generator=generator)
    return {
        "text": text,
        "image": text + 0.5 * torch.randn(WORLD * BATCH, FEATURES, generator=generator),
        "text_projection": torch.randn(EMBED, FEATURES, generator=generator),
        "image_projection": torch.randn(EMBED, FEATURES, generator=generator),
        "log_scale": torch.tensor(math.log(1 / 0.07)),
    }


PARAMETERS = ("text_projection", "image_projection", "log_scale")


def _loss(rows: slice, tensors: dict[str, torch.Tensor], gather: bool):
    return info_nce_loss(
        tensors["text"][rows] @ tensors["text_projection"].t(),
        tensors["image"][rows] @ tensors["image_projection"].t(),
        tensors["log_scale"],
        gather=gather,
    )


def _worker(rank: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        tensors = {name: value.clone().requires_grad_() for name, value in _problem().items()}
        out = _loss(slice(rank * BATCH, (rank + 1) * BATCH), tensors, gather=True)
        out.loss.backward()
        for name in PARAMETERS:  # what DDP does to parameter gradients
            dist.all_reduce(tensors[name].grad)
            tensors[name].grad /= WORLD

        # The gather itself on a 3-d tensor: rank r contributes r + its row index.
        rows = (torch.arange(BATCH * 2.0).reshape(BATCH, 2, 1) + 10 * rank).requires_grad_()
        weights = torch.arange(WORLD * BATCH * 2.0).reshape(WORLD * BATCH, 2, 1)
        gathered = gather_with_grad(rows)
        (gathered * weights).sum().backward()

        torch.save(
            {
                "loss": out.loss.detach(),
                "accuracy": out.accuracy,
                "count": out.count,
                "grads": {name: tensor.grad for name, tensor in tensors.items()},
                "gathered": gathered.detach(),
                "gather_grad": rows.grad,
            },
            Path(out_dir) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.distributed
def test_gathered_info_nce_equals_one_process_with_the_global_batch(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]

    tensors = {name: value.clone().requires_grad_() for name, value in _problem().items()}
    reference = _loss(slice(None), tensors, gather=False)
    reference.loss.backward()

    torch.testing.assert_close(torch.stack([r["loss"] for r in ranks]).mean(), reference.loss.detach())
    torch.testing.assert_close(torch.stack([r["accuracy"] for r in ranks]).mean(), reference.accuracy)
    assert [r["count"] for r in ranks] == [BATCH] * WORLD
    for result in ranks:
        for name in PARAMETERS:
            torch.testing.assert_close(result["grads"][name], tensors[name].grad, rtol=1e-5, atol=1e-6)
    for rank, result in enumerate(ranks):
        own = slice(rank * BATCH, (rank + 1) * BATCH)
        for name in ("text", "image"):
            local_grad = result["grads"][name][own]
            torch.testing.assert_close(local_grad, WORLD * tensors[name].grad[own], rtol=1e-5, atol=1e-6)
            # Rows of other ranks are constants in this rank's graph.
            assert result["grads"][name].abs().sum() == pytest.approx(local_grad.abs().sum().item())

    expected = torch.cat([torch.arange(BATCH * 2.0).reshape(BATCH, 2, 1) + 10 * r for r in range(WORLD)])
    weights = torch.arange(WORLD * BATCH * 2.0).reshape(WORLD * BATCH, 2, 1)
    for rank, result in enumerate(ranks):
        torch.testing.assert_close(result["gathered"], expected)
        torch.testing.assert_close(result["gather_grad"], WORLD * weights[rank * BATCH : (rank + 1) * BATCH])
