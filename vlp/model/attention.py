"""Self-attention on `scaled_dot_product_attention`, its masks, and the key/value cache for incremental decoding."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vlp.model.config import VLConfig
from vlp.model.packing import TokenLayout


@dataclass(frozen=True)
class KVCache:
    """Keys and values of every token seen so far, for incremental decoding.

    Keys are kept in the slot order of the steps that produced them (each example's real tokens first, see
    `vlp.model.packing`); `key_valid` marks the real ones, so later steps never attend to padding.

    Attributes:
        keys: One [B, heads, P, head_dim] tensor per layer.
        values: One [B, heads, P, head_dim] tensor per layer.
        key_valid: [B, P] bool, cached keys that belong to real tokens.
        text_length: Text positions consumed so far; the default position of the next text token.
    """

    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]
    key_valid: torch.Tensor
    text_length: int

    @property
    def length(self) -> int:
        """P, the number of cached key positions (real or not)."""
        return self.key_valid.shape[1]

    def reorder(self, index: torch.Tensor) -> KVCache:
        """Selects batch rows, e.g. the surviving hypotheses of a beam search.

        Args:
            index: [B'] long indices into the batch.
        """
        return KVCache(
            tuple(k.index_select(0, index) for k in self.keys),
            tuple(v.index_select(0, index) for v in self.values),
            self.key_valid.index_select(0, index),
            self.text_length,
        )


def attention_mask(
    layout: TokenLayout, past_valid: torch.Tensor | None = None, mask_3d: torch.Tensor | None = None
) -> torch.Tensor | None:
    """Builds the boolean SDPA mask (True = may attend) of one forward pass, shared by every layer.

    Args:
        layout: Layout of the new tokens.
        past_valid: [B, P] bool, real keys in the cache, if any.
        mask_3d: [B, L, P + L] per-example mask in the padded layout of the new tokens (nonzero = may attend); its
            first P columns are the cached keys in cache order.

    Returns:
        None when every query may attend every key (the fastest SDPA path), otherwise [B, 1, L', P + L'].

    Raises:
        ValueError: `mask_3d` does not have the shape above.
    """
    past = 0 if past_valid is None else past_valid.shape[1]
    expected = (layout.batch_size, layout.full_length, past + layout.full_length)
    if mask_3d is not None and tuple(mask_3d.shape) != expected:
        raise ValueError(f"attention_mask_3d should be [B, L, P + L] = {list(expected)}, got {list(mask_3d.shape)}")
    key_valid = layout.slot_valid if past_valid is None else torch.cat([past_valid, layout.slot_valid], dim=1)
    if mask_3d is None:
        if layout.dense and (past_valid is None or bool(past_valid.all())):
            return None
        return key_valid[:, None, None, :]
    mask = mask_3d.bool()
    if not layout.dense:
        rows = layout.slot_position
        mask = mask.gather(1, rows.unsqueeze(-1).expand(-1, -1, mask.shape[-1]))
        columns = torch.cat([torch.arange(past, device=rows.device).expand(rows.shape[0], -1), rows + past], dim=1)
        mask = mask.gather(2, columns.unsqueeze(1).expand(-1, rows.shape[1], -1))
    # Empty slots may attend anything: their outputs are dropped, and a row with no allowed key would give NaN.
    mask = (mask & key_valid.unsqueeze(1)) | ~layout.slot_valid.unsqueeze(-1)
    return mask.unsqueeze(1)


class SelfAttention(nn.Module):
    """Multi-head self-attention with BERT's parameters (query, key, value, output projections)."""

    def __init__(self, config: VLConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.num_heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.dropout = config.attention_dropout

    def forward(
        self,
        hidden: torch.Tensor,
        layout: TokenLayout,
        mask: torch.Tensor | None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Attends each real token to the real tokens of its example (and the cached ones).

        Args:
            hidden: [N, H] packed token states.
            layout: Where the packed tokens sit in their examples.
            mask: Output of `attention_mask` (None: no masking).
            past: Cached (keys, values), each [B, heads, P, head_dim].

        Returns:
            The [N, H] attention output (after the output projection) and this step's keys and values including the
            cached ones, each [B, heads, P + L', head_dim].
        """
        query, key, value = (self._heads(layout.to_slots(proj(hidden))) for proj in (self.query, self.key, self.value))
        if past is not None:
            key, value = torch.cat([past[0], key], dim=2), torch.cat([past[1], value], dim=2)
        context = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        context = context.transpose(1, 2).flatten(2)  # [B, L', H]
        return self.out(layout.from_slots(context)), (key, value)

    def _heads(self, slots: torch.Tensor) -> torch.Tensor:
        """[B, L', H] -> [B, heads, L', head_dim]."""
        return slots.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
