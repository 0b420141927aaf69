"""The typed inputs of `VLModel.forward`: a batch of texts and a batch of regions.

The dataclasses are plain (not frozen) so that Lightning can move them between devices field by field, and pinnable so
that `DataLoader(pin_memory=True)` pins them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


def _pin(value: object) -> object:
    """Pins tensors and nested batch parts; leaves everything else (ids, None) as it is."""
    return value.pin_memory() if hasattr(value, "pin_memory") else value


class Pinnable:
    """`DataLoader(pin_memory=True)` calls `pin_memory()` on batch types it does not know."""

    def pin_memory(self) -> Pinnable:
        for field in fields(self):  # type: ignore[arg-type]
            setattr(self, field.name, _pin(getattr(self, field.name)))
        return self


@dataclass
class TextInputs(Pinnable):
    """`[CLS] text [SEP] text b [SEP]` sequences, right-padded.

    Attributes:
        input_ids: Long[B, T] word-piece ids (after masking, where a masking objective applies).
        token_type_ids: Long[B, T] 0 for the text, 1 for text b (tags or answer); zeros when None.
        text_mask: Bool[B, T] True at real tokens; all real when None.
    """

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor | None = None
    text_mask: torch.Tensor | None = None


@dataclass
class RegionInputs(Pinnable):
    """Each example's regions, right-padded.

    Attributes:
        features: Float[B, R, D] region features (unmasked: region modelling masks them in the model's style).
        geometry: Float[B, R, G] box geometry, G = 6 (oscar) or 7 (uniter).
        mask: Bool[B, R] True at real regions; all real when None.
        labels: Long[B, R] region labels in the dataset's `region_label_names`, -100 at padding; None where no
            objective reads them.
    """

    features: torch.Tensor
    geometry: torch.Tensor
    mask: torch.Tensor | None = None
    labels: torch.Tensor | None = None
