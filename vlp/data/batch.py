"""The typed pretraining batch that `PretrainCollate` builds and `PretrainModule` consumes.

Shapes: B examples, T tokens (the longest text of the batch), R regions (the most regions of the batch), D feature
width, G geometry width (6 oscar, 7 uniter). Padding is right-aligned and masked out; label tensors hold -100
(`vlp.objectives.output.IGNORE_INDEX`) where no loss is taken.

`TextInputs` and `RegionInputs` are the model's own input types (`vlp.model.inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vlp.model.inputs import Pinnable, RegionInputs, TextInputs


@dataclass
class MatchingInputs(Pinnable):
    """The image-text matching view: every text with its own or another example's image.

    Attributes:
        text: the unmasked texts; where the image is swapped and text b is the image's tags, the tags are those of
            the new image.
        image_index: Long[B] row of `PretrainBatch.regions` that text i is paired with.
        labels: Long[B] 1 where that image is text i's own image (same image id), 0 otherwise.
        tags_follow_image: whether some text's text b is its image's tags (Oscar style), so that `text` was encoded
            for the drawn images and pairing a text with another image needs the collate (and the tokenizer) again.
    """

    text: TextInputs
    image_index: torch.Tensor
    labels: torch.Tensor
    tags_follow_image: bool


@dataclass
class PretrainBatch(Pinnable):
    """One batch of pretraining data with the corruption of every objective the collate was asked for.

    Attributes:
        text: the texts the masked-modelling and contrastive objectives see, polluted (Oscar contrastive) and with
            masked tokens replaced.
        regions: each example's own regions, unmasked.
        mlm_labels: Long[B, T] the original id at masked tokens, -100 elsewhere; a masked token always has a label, so
            `where(mlm_labels >= 0, mlm_labels, text.input_ids)` restores the unmasked text.
        masked_regions: Bool[B, R] regions to mask for masked region modelling (all False when it is off).
        contrastive_labels: Long[B] Oscar's pollution labels (0 matched, 1 text b replaced, 2 text replaced), or None.
        matching: the image-text matching view, or None.
        index: Long[B] dataset index of each example.
        image_ids: the image id of each example (of `regions`' rows).
    """

    text: TextInputs
    regions: RegionInputs
    mlm_labels: torch.Tensor
    masked_regions: torch.Tensor
    contrastive_labels: torch.Tensor | None
    matching: MatchingInputs | None
    index: torch.Tensor
    image_ids: list[str]

    @property
    def size(self) -> int:
        """B."""
        return int(self.index.shape[0])

    def unmasked_input_ids(self) -> torch.Tensor:
        """Long[B, T] the texts before token masking (pollution kept)."""
        return torch.where(self.mlm_labels >= 0, self.mlm_labels, self.text.input_ids)
