"""The typed captioning batch that `CaptionCollate` builds and `CaptioningModule` consumes.

Shapes: B examples, C caption positions (`[CLS] caption [SEP]` padded to Oscar's `max_seq_a_length`), G tag positions
(`tags [SEP]`), R regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vlp.model.inputs import Pinnable, RegionInputs, TextInputs


@dataclass
class CaptionBatch(Pinnable):
    """One batch of captions (training) or images (evaluation) with their regions.

    Attributes:
        text: `[CLS] caption [SEP] pad... tags [SEP]`, [B, C + G]: the caption part always C positions (empty of
            words for evaluation images), the tags from position C on.
        regions: [B, R] regions.
        attention_mask_3d: Bool[B, C + G + R, C + G + R] the seq2seq mask (`vlp.model.masks.seq2seq_mask`).
        labels: Long[B, C] the caption tokens to predict at each caption position, -100 elsewhere.
        caption_length: C.
        index: Long[B] dataset indices.
        image_ids: [B] image ids.
        references: [B] each image's reference captions (evaluation), empty tuples in training.
        tag_names: [B] each image's region tags (detector labels) in region order, the constraints of constrained
            beam search.
    """

    text: TextInputs
    regions: RegionInputs
    attention_mask_3d: torch.Tensor
    labels: torch.Tensor
    caption_length: int
    index: torch.Tensor
    image_ids: list[str]
    references: list[tuple[str, ...]]
    tag_names: list[list[str]]

    @property
    def size(self) -> int:
        return int(self.index.shape[0])

    def tags(self) -> TextInputs:
        """The `tags [SEP]` part of the text, [B, G]."""
        text, start = self.text, self.caption_length
        return TextInputs(text.input_ids[:, start:], text.token_type_ids[:, start:], text.text_mask[:, start:])
