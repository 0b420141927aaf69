"""The seq2seq mask against one built by a plain loop over queries and keys."""

from __future__ import annotations

import torch

from vlp.model.masks import seq2seq_mask


def loop_mask(caption_length: int, context_mask: torch.Tensor) -> torch.Tensor:
    batch, context = context_mask.shape
    size = caption_length + context
    mask = torch.zeros(batch, size, size, dtype=torch.bool)
    for b in range(batch):
        for query in range(size):
            for key in range(size):
                key_is_caption = key < caption_length
                if query < caption_length:  # a caption token: earlier caption tokens, itself, real context
                    mask[b, query, key] = (
                        key <= query if key_is_caption else bool(context_mask[b, key - caption_length])
                    )
                else:  # a tag or region: real context only
                    mask[b, query, key] = not key_is_caption and bool(context_mask[b, key - caption_length])
    return mask


def test_seq2seq_mask_equals_the_loop():
    context = torch.tensor([[1, 1, 1, 0, 1, 1, 0], [1, 0, 0, 0, 1, 0, 0]], dtype=torch.bool)
    for caption_length in (1, 4):
        assert torch.equal(seq2seq_mask(caption_length, context), loop_mask(caption_length, context))
