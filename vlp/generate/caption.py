"""Decoding states for captions generated token by token in Oscar's layout, `[CLS] caption [SEP] tags [SEP] regions`:
the caption attends to itself (causally), the tags and the regions; tags and regions never see the caption
(`vlp.model.masks.seq2seq_mask`), so their keys and values are computed once and cached.

Two ways to read the next token, matching how the model was trained: next-token prediction reads it from the state
of the latest token; Oscar's masked caption tokens read it from a `[MASK]` placed after the latest token (Oscar's
decoding), which is attended to but never cached (`mask_id`).

`CachedCaptionDecoder` feeds one new token per step through the cache; `RecomputingCaptionDecoder` recomputes the
whole sequence each step, the reference the cache is tested against and the baseline of its speed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vlp.model.attention import KVCache
from vlp.model.heads import in_float32
from vlp.model.inputs import RegionInputs, TextInputs
from vlp.model.masks import seq2seq_mask
from vlp.model.model import VLModel


@dataclass(frozen=True)
class CaptionContext:
    """What captions are generated from.

    Attributes:
        tags: the tags segment, `tags [SEP]`: Long[B, T] ids, token type 1, Bool[B, T] real tokens.
        regions: [B, R] regions.
        caption_length: C, the positions reserved for the caption (Oscar's `max_seq_a_length`): the tags take
            positions C, C + 1, ..., as in training.
    """

    tags: TextInputs
    regions: RegionInputs
    caption_length: int

    def rows(self, index: Tensor) -> CaptionContext:
        """The context of examples `index` (Long[N], repeats allowed)."""

        def pick(tensor: Tensor | None) -> Tensor | None:
            return None if tensor is None else tensor[index]

        tags, regions = self.tags, self.regions
        return CaptionContext(
            TextInputs(tags.input_ids[index], pick(tags.token_type_ids), pick(tags.text_mask)),
            RegionInputs(regions.features[index], regions.geometry[index], pick(regions.mask)),
            self.caption_length,
        )

    @property
    def tag_positions(self) -> Tensor:
        """Long[T] the tags' text positions."""
        length = self.tags.input_ids.shape[1]
        return torch.arange(self.caption_length, self.caption_length + length, device=self.tags.input_ids.device)


def next_token_log_probs(model: VLModel, head: nn.Module, states: Tensor) -> Tensor:
    """Float[N, V] log-probabilities of the next token from [N, H] states, through a masked-token head tied to the
    word embeddings (`TiedPredictionHead`)."""
    return in_float32(head, states, model.word_embedding_weight).float().log_softmax(dim=-1)


class CachedCaptionDecoder:
    """A `DecodingState` that encodes the context once and then feeds one caption token per step through the cache.

    Args:
        model: the captioning model.
        head: its tied output head.
        context: the tags and regions of each example (one row each).
        mask_id: read each next token at a `[MASK]` after the latest token (a model trained on masked caption tokens,
            as Oscar's); None reads it from the latest token's own state (next-token prediction).
    """

    def __init__(self, model: VLModel, head: nn.Module, context: CaptionContext, mask_id: int | None = None) -> None:
        self.model, self.head, self.mask_id = model, head, mask_id
        output = model(context.tags, context.regions, use_cache=True, position_ids=context.tag_positions)
        assert output.past_key_values is not None
        self.cache: KVCache = output.past_key_values
        self.position = 0

    def step(self, tokens: Tensor) -> Tensor:
        """[N] tokens at the next caption position -> [N, V] log-probabilities of the one after."""
        position = torch.tensor([self.position], device=tokens.device)
        output = self.model(
            TextInputs(tokens[:, None]), past_key_values=self.cache, use_cache=True, position_ids=position
        )
        assert output.past_key_values is not None
        self.cache, self.position = output.past_key_values, self.position + 1
        if self.mask_id is not None:  # the [MASK] at the next position sees the cache, and is not kept in it
            masks = torch.full_like(tokens[:, None], self.mask_id)
            output = self.model(TextInputs(masks), past_key_values=self.cache, position_ids=position + 1)
        return next_token_log_probs(self.model, self.head, output.sequence_output[:, 0])

    def reorder(self, rows: Tensor) -> None:
        self.cache = self.cache.reorder(rows)


class RecomputingCaptionDecoder:
    """A `DecodingState` that runs the whole `[caption so far, tags, regions]` sequence with the seq2seq mask at every
    step: what the cache saves, and the reference it must equal.

    Args: as `CachedCaptionDecoder` (with `mask_id`, each step's caption part ends in the `[MASK]` it reads).
    """

    def __init__(self, model: VLModel, head: nn.Module, context: CaptionContext, mask_id: int | None = None) -> None:
        self.model, self.head, self.context, self.mask_id = model, head, context, mask_id
        self.fed = torch.zeros(
            context.tags.input_ids.shape[0], 0, dtype=torch.long, device=context.tags.input_ids.device
        )

    def step(self, tokens: Tensor) -> Tensor:
        """[N] tokens at the next caption position -> [N, V] log-probabilities of the one after."""
        self.fed = torch.cat([self.fed, tokens[:, None]], dim=1)
        caption = self.fed
        if self.mask_id is not None:
            caption = torch.cat([caption, torch.full_like(tokens[:, None], self.mask_id)], dim=1)
        tags, regions, length = self.context.tags, self.context.regions, caption.shape[1]
        tag_types = torch.ones_like(tags.input_ids) if tags.token_type_ids is None else tags.token_type_ids
        tag_mask = torch.ones_like(tags.input_ids, dtype=torch.bool) if tags.text_mask is None else tags.text_mask
        region_mask = (
            regions.mask if regions.mask is not None else torch.ones(regions.features.shape[:2], dtype=torch.bool)
        )
        text = TextInputs(
            torch.cat([caption, tags.input_ids], dim=1),
            torch.cat([torch.zeros_like(caption), tag_types], dim=1),
            torch.cat([torch.ones_like(caption, dtype=torch.bool), tag_mask], dim=1),
        )
        positions = torch.cat([torch.arange(length, device=caption.device), self.context.tag_positions])
        mask = seq2seq_mask(length, torch.cat([tag_mask, region_mask], dim=1))
        output = self.model(text, regions, attention_mask_3d=mask, position_ids=positions)
        return next_token_log_probs(self.model, self.head, output.sequence_output[:, length - 1])

    def reorder(self, rows: Tensor) -> None:
        self.fed = self.fed[rows]
        self.context = self.context.rows(rows)
