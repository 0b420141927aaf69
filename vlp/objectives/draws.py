"""Random draws shared by the masking and sampling functions, from an optional `torch.Generator`.

Draws happen on the generator's device (CPU unless the caller made a CUDA generator) and are moved to the data's
device, so that one seeded generator reproduces the same masks wherever the batch lives.
"""

from __future__ import annotations

import torch
from torch import Tensor


def uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device | str = "cpu") -> Tensor:
    """Float32 draws from U[0, 1) of `shape`, on `device`."""
    draw_device = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=draw_device).to(device)


def randint(
    high: int, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device | str = "cpu"
) -> Tensor:
    """Int64 draws uniform over `[0, high)` of `shape`, on `device`."""
    draw_device = generator.device if generator is not None else device
    return torch.randint(high, shape, generator=generator, device=draw_device).to(device)


def other_index(own: Tensor, size: int, generator: torch.Generator | None) -> Tensor:
    """For every entry of `own`, an index drawn uniformly from `[0, size)` without that entry.

    Draws from the `size - 1` allowed values and shifts those at or past `own` up by one, which is uniform over the
    allowed set without rejection loops.

    Args:
        own: Long[B], indices in `[0, size)`.
        size: number of candidates, at least 2.
        generator: source of randomness.

    Returns:
        Long[B] on `own`'s device, never equal to `own`.
    """
    if size < 2:
        raise ValueError(f"need at least 2 candidates to draw another one, got {size}")
    if own.numel() and (int(own.min()) < 0 or int(own.max()) >= size):
        raise ValueError(f"indices must lie in [0, {size})")
    draw = randint(size - 1, tuple(own.shape), generator, own.device)
    return draw + (draw >= own).long()


def softmax_draw(scores: Tensor | None, excluded: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """For every row, a column drawn in proportion to the softmax of its scores over the columns it does not exclude
    (uniformly when `scores` is None): ALBEF's hard negatives, with the positives excluded.

    Args:
        scores: optional [B, N] scores (read without gradient).
        excluded: Bool[B, N] the columns each row may not draw.
        generator: source of randomness.

    Returns:
        Long[B] the drawn columns and Bool[B] whether a row had any column left (where it had none, its draw is 0 and
        meaningless), both on `excluded`'s device.
    """
    device = excluded.device
    values = torch.zeros(excluded.shape, device=device) if scores is None else scores.detach().float().to(device)
    has_other = ~excluded.all(dim=1)
    # A row with nothing left gets any valid distribution (zeros): the caller discards its draw.
    values = values.masked_fill(excluded, float("-inf")).masked_fill(~has_other[:, None], 0.0)
    draw_device = generator.device if generator is not None else device
    drawn = torch.multinomial(values.softmax(dim=1).to(draw_device), 1, generator=generator).squeeze(1).to(device)
    return drawn, has_other
