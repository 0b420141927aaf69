"""Skipping padding: token-wise layers run on the real tokens only, attention on per-example "slots".

A padded batch `[B, L]` (L = T text + R region positions) holds N real tokens. Every layer but attention works token by
token, so the encoder keeps its states packed as `[N, H]` and spends no time on padding. Attention needs a rectangular
batch: it scatters each example's real tokens, in order, to the front of `L' = max_b n_b` slots (`[B, L', H]`), which
is no longer than the padded text plus the padded regions and usually shorter. When nothing is padded the three
layouts coincide and every conversion is a view.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


class _SelectUniqueRows(torch.autograd.Function):
    """`source.index_select(0, index)` for an index without repeats, whose backward copies instead of accumulating.

    The stock backward (`index_add_`) must allow repeated rows and is tens of times slower than `index_copy_` on CPU;
    the layout's indices never repeat, so copying the gradient rows back is exact.
    """

    @staticmethod
    def forward(ctx, source: torch.Tensor, index: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(index)
        ctx.num_rows = source.shape[0]
        return source.index_select(0, index)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (index,) = ctx.saved_tensors
        return grad.new_zeros(ctx.num_rows, *grad.shape[1:]).index_copy_(0, index, grad), None


def select_unique_rows(source: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """[M, ...] rows `index` ([N], no repeats) of `source` -> [N, ...]."""
    return _SelectUniqueRows.apply(source, index)


@dataclass(frozen=True)
class TokenLayout:
    """Index maps between the padded `[B, L]`, packed `[N]` and slot `[B, L']` layouts of one batch.

    Attributes:
        batch_size: B.
        full_length: L, the padded length.
        slot_length: L', the largest number of real tokens in an example.
        token_index: [N] flat positions in `[B * L]` of the real tokens; None when nothing is padded.
        slot_index: [N] flat positions in `[B * L']` of the same tokens; None when nothing is padded.
        slot_valid: [B, L'] bool, slots that hold a real token.
        slot_position: [B, L'] long, padded-layout position of the token in each slot (0 in empty slots).
        first_token: [B] packed row of each example's first real token.
    """

    batch_size: int
    full_length: int
    slot_length: int
    token_index: torch.Tensor | None
    slot_index: torch.Tensor | None
    slot_valid: torch.Tensor
    slot_position: torch.Tensor
    first_token: torch.Tensor

    @classmethod
    def from_mask(cls, valid: torch.Tensor) -> TokenLayout:
        """Builds the layout of a batch from its `[B, L]` bool mask of real tokens.

        Raises:
            ValueError: an example has no real token (attention over nothing is undefined).
        """
        batch_size, full_length = valid.shape
        lengths = valid.sum(dim=1)
        # One host synchronisation for the three numbers the layout needs.
        shortest, longest, total = torch.stack([lengths.min(), lengths.max(), lengths.sum()]).tolist()
        if shortest == 0:
            raise ValueError("every example needs at least one real token (text or region)")
        first_token = torch.cumsum(lengths, dim=0) - lengths
        if total == batch_size * full_length:
            positions = torch.arange(full_length, device=valid.device).expand(batch_size, -1)
            return cls(batch_size, full_length, full_length, None, None, valid, positions, first_token)
        token_index = valid.flatten().nonzero().squeeze(1)
        rank = torch.cumsum(valid, dim=1) - 1  # slot of each real token within its example
        example = torch.arange(batch_size, device=valid.device).unsqueeze(1)
        slot_index = (example * longest + rank).flatten()[token_index]
        slot_valid = torch.arange(longest, device=valid.device) < lengths.unsqueeze(1)
        slot_position = torch.zeros(batch_size * longest, dtype=torch.long, device=valid.device)
        slot_position = slot_position.index_copy(0, slot_index, token_index % full_length).view(batch_size, longest)
        return cls(batch_size, full_length, longest, token_index, slot_index, slot_valid, slot_position, first_token)

    @property
    def dense(self) -> bool:
        """True when the batch has no padding, so all layouts are the same."""
        return self.token_index is None

    def pack(self, padded: torch.Tensor) -> torch.Tensor:
        """[B, L, ...] -> [N, ...]: keeps the real tokens."""
        flat = padded.flatten(0, 1)
        return flat if self.token_index is None else select_unique_rows(flat, self.token_index)

    def unpack(self, packed: torch.Tensor) -> torch.Tensor:
        """[N, ...] -> [B, L, ...]: puts the real tokens back, zeros at padding."""
        shape = (self.batch_size, self.full_length, *packed.shape[1:])
        if self.token_index is None:
            return packed.view(shape)
        flat = packed.new_zeros(self.batch_size * self.full_length, *packed.shape[1:])
        return flat.index_copy(0, self.token_index, packed).view(shape)

    def to_slots(self, packed: torch.Tensor) -> torch.Tensor:
        """[N, ...] -> [B, L', ...]: each example's tokens at the front of its slots, zeros after."""
        shape = (self.batch_size, self.slot_length, *packed.shape[1:])
        if self.slot_index is None:
            return packed.view(shape)
        flat = packed.new_zeros(self.batch_size * self.slot_length, *packed.shape[1:])
        return flat.index_copy(0, self.slot_index, packed).view(shape)

    def from_slots(self, slots: torch.Tensor) -> torch.Tensor:
        """[B, L', ...] -> [N, ...]: the inverse of `to_slots`."""
        flat = slots.reshape(self.batch_size * self.slot_length, *slots.shape[2:])
        return flat if self.slot_index is None else select_unique_rows(flat, self.slot_index)
