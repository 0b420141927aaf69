"""Tiny configs, random weights and padded batches shared by the model and conversion tests."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from vlp.model import RegionInputs, TextInputs, VLConfig

TINY = VLConfig(
    vocab_size=97,
    hidden_size=32,
    num_layers=2,
    num_heads=4,
    intermediate_size=48,
    max_position_embeddings=64,
    hidden_dropout=0.0,
    attention_dropout=0.0,
    region_feature_dim=12,
)


def tiny(**changes: object) -> VLConfig:
    """The tiny test config with some fields changed."""
    return replace(TINY, **changes)


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrites every parameter with N(0, 0.2) draws, so no LayerNorm or bias is a trivial identity or zero that a
    wrong key map could go unnoticed with."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
    return module


@dataclass
class Batch:
    """A padded batch: [B, T] text, [B, R] regions, with the lengths that define the padding."""

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    text_mask: torch.Tensor
    region_features: torch.Tensor
    region_geometry: torch.Tensor
    region_mask: torch.Tensor
    text_lengths: torch.Tensor
    region_lengths: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """[B, T + R] bool, real tokens in the padded layout."""
        return torch.cat([self.text_mask, self.region_mask], dim=1)

    @property
    def text(self) -> TextInputs:
        return TextInputs(self.input_ids, self.token_type_ids, self.text_mask)

    @property
    def regions(self) -> RegionInputs:
        return RegionInputs(self.region_features, self.region_geometry, self.region_mask)

    def inputs(self) -> dict[str, TextInputs | RegionInputs]:
        """Keyword arguments of `VLModel.forward`."""
        return {"text": self.text, "regions": self.regions}

    def tensors(self) -> dict[str, torch.Tensor]:
        """The batch's tensors by the names `typed` reads, for tests that change one of them."""
        return {
            "input_ids": self.input_ids,
            "token_type_ids": self.token_type_ids,
            "text_mask": self.text_mask,
            "region_features": self.region_features,
            "region_geometry": self.region_geometry,
            "region_mask": self.region_mask,
        }


def typed(tensors: dict[str, torch.Tensor | None]) -> dict[str, TextInputs | RegionInputs]:
    """`VLModel.forward`'s `text` and `regions` from tensors named as `Batch.tensors` names them; a part whose ids or
    features are absent is left out."""
    inputs: dict[str, TextInputs | RegionInputs] = {}
    if "input_ids" in tensors:
        inputs["text"] = TextInputs(tensors["input_ids"], tensors.get("token_type_ids"), tensors.get("text_mask"))
    if "region_features" in tensors:
        inputs["regions"] = RegionInputs(
            tensors["region_features"], tensors["region_geometry"], tensors.get("region_mask")
        )
    return inputs


def make_batch(
    config: VLConfig, text_lengths: list[int], region_lengths: list[int], text: int = 9, regions: int = 6, seed: int = 0
) -> Batch:
    """Random inputs with the given real lengths, padded to `text` tokens and `regions` regions; the padding holds
    random values too, so that only masking can keep it out."""
    generator = torch.Generator().manual_seed(seed)
    batch = len(text_lengths)
    text_len, region_len = torch.tensor(text_lengths), torch.tensor(region_lengths)
    return Batch(
        input_ids=torch.randint(1, config.vocab_size, (batch, text), generator=generator),
        token_type_ids=torch.randint(0, config.type_vocab_size, (batch, text), generator=generator),
        text_mask=torch.arange(text) < text_len[:, None],
        region_features=torch.randn(batch, regions, config.region_feature_dim, generator=generator),
        region_geometry=torch.rand(batch, regions, config.geometry_dim, generator=generator),
        region_mask=torch.arange(regions) < region_len[:, None],
        text_lengths=text_len,
        region_lengths=region_len,
    )
