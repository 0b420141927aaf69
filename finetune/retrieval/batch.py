"""The typed retrieval batch: captions and images kept apart, so that any caption can be paired with any image (the
negatives of training, every pair of evaluation) by `finetune.retrieval.pairs.pair_inputs`.

Shapes: B examples, C caption positions, G tag pieces, R regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vlp.model.inputs import Pinnable, RegionInputs, TextInputs


@dataclass
class CaptionTokens(Pinnable):
    """`[CLS] caption [SEP]`, right-padded.

    Attributes:
        input_ids: Long[N, C] word-piece ids.
        mask: Bool[N, C] True at real tokens.
    """

    input_ids: torch.Tensor
    mask: torch.Tensor

    def rows(self, index: torch.Tensor) -> CaptionTokens:
        """The captions at `index` [P]."""
        return CaptionTokens(self.input_ids[index], self.mask[index])

    def text(self) -> TextInputs:
        """The captions alone as model input (token type 0), [N, C]: what `encode_text` reads."""
        return TextInputs(self.input_ids, torch.zeros_like(self.input_ids), self.mask)


@dataclass
class ImageSide(Pinnable):
    """Images as the cross-encoder reads them: their tags (text b) and their regions.

    Attributes:
        tag_ids: Long[M, G] each image's tag pieces, without `[SEP]`, right-padded.
        tag_mask: Bool[M, G] True at real pieces.
        regions: [M, R] regions.
    """

    tag_ids: torch.Tensor
    tag_mask: torch.Tensor
    regions: RegionInputs

    def rows(self, index: torch.Tensor) -> ImageSide:
        """The images at `index` [P]."""
        regions = self.regions
        mask = None if regions.mask is None else regions.mask[index]
        return ImageSide(
            self.tag_ids[index],
            self.tag_mask[index],
            RegionInputs(regions.features[index], regions.geometry[index], mask),
        )


@dataclass
class RetrievalBatch(Pinnable):
    """Training captions with their images, or gallery images (whose captions are `[CLS] [SEP]`).

    Attributes:
        captions: [B] the captions.
        images: [B] each caption's image.
        image: Long[B] the images' numbers in their dataset (equal numbers, equal images).
        index: Long[B] dataset indices.
    """

    captions: CaptionTokens
    images: ImageSide
    image: torch.Tensor
    index: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.index.shape[0])
