"""Any caption with any image as one cross-encoder input: Oscar's `[CLS] caption [SEP] tags [SEP]` and the image's
regions, built on the device from captions and images tokenised once."""

from __future__ import annotations

import torch

from finetune.retrieval.batch import CaptionTokens, ImageSide
from vlp.model.inputs import RegionInputs, TextInputs


def pair_inputs(
    captions: CaptionTokens, images: ImageSide, max_tokens: int, sep_id: int, tags: bool = True
) -> tuple[TextInputs, torch.Tensor | None, RegionInputs]:
    """Pairs caption p with image p, for P pairs.

    The tags fill what the caption leaves of `max_tokens` (Oscar's truncation: the caption first, cut by
    `RetrievalCollate` to leave room for the closing `[SEP]`, then as many tag pieces as fit before it). Padding may sit
    between the caption and the tags; the returned positions count real tokens only, so the model sees the same
    sequence as the contiguous one.

    Args:
        captions: [P] `[CLS] caption [SEP]`.
        images: [P] the images' tags and regions.
        max_tokens: the text budget, special tokens included (Oscar's retrieval: 70).
        sep_id: the `[SEP]` id.
        tags: put the tags after the caption (Oscar); without them the text is the caption alone (UNITER).

    Returns:
        The texts [P, T] (token type 0 for the caption, 1 for the tags and their `[SEP]`), their position ids [P, T]
        (None when the text is the caption alone, which is contiguous) and the regions [P, R].
    """
    regions = images.regions
    if not tags:
        return captions.text(), None, regions
    count, room = captions.input_ids.shape[0], max_tokens - captions.mask.sum(dim=1, keepdim=True) - 1
    kept = images.tag_mask & (torch.arange(images.tag_ids.shape[1], device=room.device) < room)
    sep = torch.full((count, 1), sep_id, dtype=torch.long, device=room.device)
    real = torch.cat([captions.mask, kept, torch.ones_like(sep, dtype=torch.bool)], dim=1)
    token_types = torch.cat(
        [torch.zeros_like(captions.input_ids), torch.ones_like(images.tag_ids), torch.ones_like(sep)], dim=1
    )
    text = TextInputs(torch.cat([captions.input_ids, images.tag_ids, sep], dim=1), token_types, real)
    return text, (real.long().cumsum(dim=1) - 1).clamp(min=0), regions
