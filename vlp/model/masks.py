"""Attention masks that tasks pass to `VLModel.forward(..., attention_mask_3d=...)`."""

from __future__ import annotations

import torch


def seq2seq_mask(caption_length: int, context_mask: torch.Tensor) -> torch.Tensor:
    """Captioning's mask over `[caption, context]` (context: tags and regions).

    Caption tokens see earlier caption tokens, themselves and the whole context; context tokens see the context only,
    never the caption, so their states (and a key/value cache of them) do not depend on the caption.

    Args:
        caption_length: C, caption positions (padding included: the model masks padded keys on top).
        context_mask: Bool[B, K] real context positions (tags, then regions).

    Returns:
        Bool[B, C + K, C + K], True where a query (row) may attend a key (column).
    """
    batch, context = context_mask.shape
    device = context_mask.device
    causal = torch.ones(caption_length, caption_length, dtype=torch.bool, device=device).tril()
    keys = context_mask.bool()[:, None, :]
    caption_rows = torch.cat([causal.expand(batch, -1, -1), keys.expand(-1, caption_length, -1)], dim=2)
    hidden_caption = torch.zeros(batch, context, caption_length, dtype=torch.bool, device=device)
    context_rows = torch.cat([hidden_caption, keys.expand(-1, context, -1)], dim=2)
    return torch.cat([caption_rows, context_rows], dim=1)
