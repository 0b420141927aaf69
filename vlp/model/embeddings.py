"""Input embeddings: BERT-compatible text embeddings and the two region-embedding styles (Oscar, UNITER)."""

from __future__ import annotations

import torch
from torch import nn

from vlp.model.config import VLConfig


class TextEmbeddings(nn.Module):
    """BERT's text embeddings: word + position + token type, LayerNorm, dropout."""

    def __init__(self, config: VLConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        first_position: int = 0,
    ) -> torch.Tensor:
        """Embeds word pieces.

        Args:
            input_ids: [B, T] word-piece ids.
            token_type_ids: [B, T] segment ids; zeros when omitted.
            position_ids: [B, T] or [T] positions; `first_position + arange(T)` when omitted.
            first_position: Position of the first token when `position_ids` is omitted (text already in a KV cache).

        Returns:
            [B, T, H] embeddings.
        """
        if position_ids is None:
            position_ids = torch.arange(first_position, first_position + input_ids.shape[1], device=input_ids.device)
        # Token type 0 is one row: adding it directly skips an index lookup when no types are given. The order of the
        # sums is `transformers.BertEmbeddings`' so that text-only outputs match it to the last bit.
        token_types = self.token_type.weight[0] if token_type_ids is None else self.token_type(token_type_ids)
        embeddings = self.word(input_ids) + token_types + self.position(position_ids)
        return self.dropout(self.norm(embeddings))


class OscarRegionEmbeddings(nn.Module):
    """Oscar/VinVL region embeddings: Linear(D + 6 -> H) on [feature, geometry], optional LayerNorm, dropout.

    As in Oscar's `BertImgModel`, regions get no position and no token-type embedding. Oscar's 2054-d input is the
    2048-d feature followed by the 6-d geometry, so one Linear over their concatenation is exactly Oscar's
    `img_embedding`.
    """

    def __init__(self, config: VLConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(config.region_feature_dim + config.geometry_dim, config.hidden_size)
        self.norm = (
            nn.LayerNorm(config.hidden_size, eps=config.region_layer_norm_eps) if config.use_region_layernorm else None
        )
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.feature_dim = config.region_feature_dim

    @property
    def feature_weight(self) -> torch.Tensor:
        """[H, D] the part of the projection that reads region features (tied by a feature-regression head)."""
        return self.proj.weight[:, : self.feature_dim]

    def forward(self, features: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
        """Embeds regions.

        Args:
            features: [B, R, D] region features (any float dtype; cast to the weights' dtype).
            geometry: [B, R, 6] box geometry `[x1/W, y1/H, x2/W, y2/H, w/W, h/H]`.

        Returns:
            [B, R, H] embeddings.
        """
        dtype = self.proj.weight.dtype
        embeddings = self.proj(torch.cat([features.to(dtype), geometry.to(dtype)], dim=-1))
        if self.norm is not None:
            embeddings = self.norm(embeddings)
        return self.dropout(embeddings)


class UniterRegionEmbeddings(nn.Module):
    """UNITER region embeddings: LN(Linear(feature)) + LN(Linear(geometry)) + token-type-1 embedding, LN, dropout.

    `mask_embedding` keeps UNITER's [2, D] table so that checkpoints round-trip exactly; like UNITER (which zeroes row 0
    before every use) only row 1 is used, added to the features of masked regions.
    """

    def __init__(self, config: VLConfig) -> None:
        super().__init__()
        hidden, eps = config.hidden_size, config.layer_norm_eps
        self.feature_proj = nn.Linear(config.region_feature_dim, hidden)
        self.feature_norm = nn.LayerNorm(hidden, eps=eps)
        self.geometry_proj = nn.Linear(config.geometry_dim, hidden)
        self.geometry_norm = nn.LayerNorm(hidden, eps=eps)
        self.norm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.mask_embedding = nn.Parameter(torch.zeros(2, config.region_feature_dim))
        nn.init.normal_(self.mask_embedding[1], std=config.initializer_range)

    @property
    def feature_weight(self) -> torch.Tensor:
        """[H, D] the feature projection (tied by UNITER's feature-regression head)."""
        return self.feature_proj.weight

    def forward(
        self,
        features: torch.Tensor,
        geometry: torch.Tensor,
        type_embedding: torch.Tensor,
        masked: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Embeds regions.

        Args:
            features: [B, R, D] region features (any float dtype; cast to the weights' dtype).
            geometry: [B, R, 7] box geometry, Oscar's six values followed by `w*h/(W*H)`.
            type_embedding: [H] the token-type embedding that regions share (UNITER uses type 1).
            masked: [B, R] bool, regions whose features were masked out (UNITER MRM); they get `mask_embedding[1]`.

        Returns:
            [B, R, H] embeddings.
        """
        dtype = self.feature_proj.weight.dtype
        features = features.to(dtype)
        if masked is not None:
            features = torch.where(masked.unsqueeze(-1), features + self.mask_embedding[1], features)
        embeddings = (
            self.feature_norm(self.feature_proj(features))
            + self.geometry_norm(self.geometry_proj(geometry.to(dtype)))
            + type_embedding
        )
        return self.dropout(self.norm(embeddings))
