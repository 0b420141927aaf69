"""`CaptionCollate`: tokenises, masks or shifts, and pads `CaptionItem`s into a `CaptionBatch` in Oscar's layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from finetune.captioning.batch import CaptionBatch
from finetune.captioning.dataset import CaptionItem
from vlp.data.padding import pad_regions
from vlp.data.randomness import BatchRandomness
from vlp.data.tokenizer import WordPieceTokenizer
from vlp.model.inputs import TextInputs
from vlp.model.masks import seq2seq_mask
from vlp.objectives.masked_tokens import apply_token_mask
from vlp.objectives.output import IGNORE_INDEX

CaptionObjective = Literal["masked", "next_token"]


def sample_caption_mask(
    maskable: torch.Tensor, probability: float, max_masked: int, generator: torch.Generator
) -> torch.Tensor:
    """Oscar's caption masking: per caption, `min(max(round(probability * n), 1), max_masked)` of its n maskable
    positions, drawn uniformly without replacement.

    Args:
        maskable: Bool[B, C] the positions that may be masked (the caption's words and its closing `[SEP]`).
        probability: the masking rate (Oscar: 0.15).
        max_masked: the most positions masked per caption (Oscar: 3).
        generator: source of randomness.

    Returns:
        Bool[B, C].
    """
    keys = torch.rand(maskable.shape, generator=generator).masked_fill(~maskable, 2.0)
    order = keys.argsort(dim=1)
    counts = maskable.sum(dim=1)
    wanted = torch.clamp(torch.round(probability * counts.float()), min=1).long().clamp(max=max_masked)
    wanted = torch.minimum(wanted, counts)
    chosen = torch.arange(maskable.shape[1]) < wanted[:, None]
    return torch.zeros_like(maskable).scatter_(1, order, chosen)


def next_token_labels(input_ids: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Long[B, C] the token after each real caption position (-100 at the last real one and at padding)."""
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    follows = real[:, 1:] & real[:, :-1]
    labels[:, :-1] = torch.where(follows, input_ids[:, 1:], IGNORE_INDEX)
    return labels


class CaptionCollate:
    """Builds `CaptionBatch`es: `[CLS] caption [SEP]` padded to `max_caption_tokens`, then `tags [SEP]`, the regions and
    the seq2seq mask, with the targets of the training objective.

    Args:
        tokenizer: the word-piece tokenizer.
        objective: "masked" (Oscar: masked caption tokens, read at their positions) or "next_token" (each position
            predicts the following token).
        max_caption_tokens: C, the caption part's positions, `[CLS]` and `[SEP]` included (Oscar's
            `max_seq_a_length`: 40).
        max_tokens: the whole text budget, tags included (Oscar's `max_seq_length`: 70).
        mask_probability: masked objective: the rate of masked caption tokens (Oscar: 0.15).
        max_masked: masked objective: the most masked tokens per caption (Oscar: 3).
        tags: put the image's region tags after the caption (Oscar); without them the tags part is `[SEP]` alone.
        fixed: seed each batch from its indices (evaluation) rather than from a running stream (training).
    """

    def __init__(
        self,
        tokenizer: WordPieceTokenizer,
        objective: CaptionObjective = "masked",
        max_caption_tokens: int = 40,
        max_tokens: int = 70,
        mask_probability: float = 0.15,
        max_masked: int = 3,
        tags: bool = True,
        fixed: bool = False,
    ) -> None:
        if objective not in ("masked", "next_token"):
            raise ValueError(f"objective must be 'masked' or 'next_token', got {objective!r}")
        if max_tokens <= max_caption_tokens or max_caption_tokens < 3:
            raise ValueError(f"need 3 <= max_caption_tokens < max_tokens, got {max_caption_tokens} and {max_tokens}")
        self.tokenizer, self.objective, self.tags = tokenizer, objective, tags
        self.max_caption_tokens, self.max_tokens = max_caption_tokens, max_tokens
        self.mask_probability, self.max_masked = mask_probability, max_masked
        self.generator = BatchRandomness(fixed)

    def _captions(self, items: Sequence[CaptionItem]) -> tuple[torch.Tensor, torch.Tensor]:
        """Long[B, C] `[CLS] pieces [SEP]` padded, and Bool[B, C] its real positions."""
        tokenizer, length = self.tokenizer, self.max_caption_tokens
        ids = torch.full((len(items), length), tokenizer.pad_id, dtype=torch.long)
        for row, item in enumerate(items):
            pieces = tokenizer.pieces(item.words)[0][: length - 2]
            ids[row, : len(pieces) + 2] = torch.tensor([tokenizer.cls_id, *pieces, tokenizer.sep_id])
        return ids, ids != tokenizer.pad_id

    def _tags(self, items: Sequence[CaptionItem]) -> TextInputs:
        """`tags [SEP]` per item, [B, G], token type 1."""
        budget = self.max_tokens - self.max_caption_tokens - 1
        rows = [
            [*(self.tokenizer.pieces(item.tag_words)[0][:budget] if self.tags else []), self.tokenizer.sep_id]
            for item in items
        ]
        width = max(len(row) for row in rows)
        ids = torch.full((len(items), width), self.tokenizer.pad_id, dtype=torch.long)
        for index, row in enumerate(rows):
            ids[index, : len(row)] = torch.tensor(row)
        real = ids != self.tokenizer.pad_id
        return TextInputs(ids, real.long(), real)

    def __call__(self, items: Sequence[CaptionItem]) -> CaptionBatch:
        tokenizer, indices = self.tokenizer, [item.index for item in items]
        captions, real = self._captions(items)
        if self.objective == "next_token":
            labels = next_token_labels(captions, real)
        else:
            maskable = real & (captions != tokenizer.cls_id)  # the words and the closing [SEP], which teaches ending
            generator = self.generator(indices)
            chosen = sample_caption_mask(maskable, self.mask_probability, self.max_masked, generator)
            keep_special = (tokenizer.pad_id, tokenizer.cls_id, tokenizer.mask_id)
            captions, labels = apply_token_mask(
                captions, chosen, tokenizer.mask_id, tokenizer.vocab_size, generator, keep_special
            )
        tags, regions = self._tags(items), pad_regions(items)
        text = TextInputs(
            torch.cat([captions, tags.input_ids], dim=1),
            torch.cat([torch.zeros_like(captions), tags.token_type_ids], dim=1),
            torch.cat([real, tags.text_mask], dim=1),
        )
        return CaptionBatch(
            text=text,
            regions=regions,
            attention_mask_3d=seq2seq_mask(self.max_caption_tokens, torch.cat([tags.text_mask, regions.mask], dim=1)),
            labels=labels,
            caption_length=self.max_caption_tokens,
            index=torch.tensor(indices, dtype=torch.long),
            image_ids=[item.image_id for item in items],
            references=[item.references for item in items],
            tag_names=[item.tags for item in items],
        )
