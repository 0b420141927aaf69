"""The typed pretraining batch that `PretrainCollate` builds and `PretrainModule` consumes.

Shapes: B examples, T tokens (the longest text of the batch), R regions (the most regions of the batch), D feature
width, G geometry width (6 oscar, 7 uniter). Padding is right-aligned and masked out; label tensors hold -100
(`vlp.objectives.output.IGNORE_INDEX`) where no loss is taken.

The dataclasses are plain (not frozen) so that Lightning can move them between devices field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


def _pin(value: object) -> object:
    """Pins tensors and nested batch parts; leaves everything else (ids, None) as it is."""
    return value.pin_memory() if hasattr(value, "pin_memory") else value


class _Pinnable:
    """`DataLoader(pin_memory=True)` calls `pin_memory()` on batch types it does not know."""

    def pin_memory(self) -> _Pinnable:
        for field in fields(self):  # type: ignore[arg-type]
            setattr(self, field.name, _pin(getattr(self, field.name)))
        return self


@dataclass
class TextInputs(_Pinnable):
    """`[CLS] text [SEP] text b [SEP]` sequences.

    Attributes:
        input_ids: Long[B, T] word-piece ids (after masking, where a masking objective applies).
        token_type_ids: Long[B, T] 0 for the text, 1 for text b (tags or answer).
        text_mask: Bool[B, T] True at real tokens.
    """

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    text_mask: torch.Tensor


@dataclass
class RegionInputs(_Pinnable):
    """Each example's regions.

    Attributes:
        features: Float[B, R, D] region features (unmasked: the module zeroes or masks them for region modelling).
        geometry: Float[B, R, G] box geometry.
        mask: Bool[B, R] True at real regions.
        labels: Long[B, R] region labels in the dataset's `region_label_names`; -100 at padding.
    """

    features: torch.Tensor
    geometry: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor


@dataclass
class MatchingInputs(_Pinnable):
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
class PretrainBatch(_Pinnable):
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
