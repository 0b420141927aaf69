"""`VLModel`: the single-stream vision-language transformer (text tokens followed by regions, one BERT encoder)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vlp.model.attention import KVCache, attention_mask
from vlp.model.config import VLConfig
from vlp.model.embeddings import OscarRegionEmbeddings, TextEmbeddings, UniterRegionEmbeddings
from vlp.model.encoder import Encoder
from vlp.model.heads import in_float32
from vlp.model.init import init_weights, mimetic_init
from vlp.model.inputs import RegionInputs, TextInputs
from vlp.model.packing import TokenLayout


@dataclass(frozen=True)
class VLOutput:
    """What `VLModel.forward` returns.

    Attributes:
        sequence_output: [B, T + R, H] final states of the text tokens then the regions; zeros at padding.
        pooled_output: [B, H] tanh(Linear(state of each example's first real token)), BERT's pooler (the [CLS]
            token of right-padded text; the first region in an image-only pass).
        past_key_values: The cache extended by this step, when `use_cache`.
    """

    sequence_output: torch.Tensor
    pooled_output: torch.Tensor
    past_key_values: KVCache | None = None


class VLModel(nn.Module):
    """BERT-compatible text embeddings and Oscar- or UNITER-style region embeddings, concatenated, a BERT encoder and
    pooler.

    Padding is never computed: token-wise layers run on the real tokens only (see `vlp.model.packing`), and attention
    uses `scaled_dot_product_attention` with one boolean mask built per forward pass.
    """

    def __init__(self, config: VLConfig) -> None:
        super().__init__()
        self.config = config
        self.text_embeddings = TextEmbeddings(config)
        self.region_embeddings: OscarRegionEmbeddings | UniterRegionEmbeddings = (
            UniterRegionEmbeddings(config) if config.region_style == "uniter" else OscarRegionEmbeddings(config)
        )
        self.encoder = Encoder(config)
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size)
        init_weights(self, config.initializer_range)
        if config.attention_init == "mimetic":
            for layer in self.encoder.layers:
                attention = layer.attention
                mimetic_init(attention.query, attention.key, attention.value, attention.out)

    @property
    def word_embedding_weight(self) -> torch.Tensor:
        """[V, H] word embeddings, the output weight of a tied masked-token head."""
        return self.text_embeddings.word.weight

    @property
    def region_feature_weight(self) -> torch.Tensor:
        """[D, H] transpose of the region-feature projection, the output weight of a tied feature-regression head."""
        return self.region_embeddings.feature_weight.t()

    def forward(
        self,
        text: TextInputs | None = None,
        regions: RegionInputs | None = None,
        *,
        attention_mask_3d: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        position_ids: torch.Tensor | None = None,
        masked_regions: torch.Tensor | None = None,
    ) -> VLOutput:
        """Encodes `[text tokens, regions]`; either part may be left out (text-only or image-only passes).

        Args:
            text: [B, T] word-piece ids (`[CLS] text [SEP] tags [SEP]`), their segment ids (zeros when None) and mask
                of real tokens (all real when None).
            regions: [B, R, D] region features, [B, R, G] box geometry (G = `config.geometry_dim`: 6 oscar, 7 uniter)
                and [B, R] mask of real regions (all real when None).
            attention_mask_3d: [B, T + R, P + T + R] per-example mask, nonzero where a query may attend a key (e.g.
                captioning's seq2seq mask); padding is always masked on top of it. The first P columns are the cached
                keys in cache order, where P = `past_key_values.length` (0 without a cache). Every real token must be
                allowed at least one real key.
            past_key_values: Cache returned by an earlier call with `use_cache=True`; the new tokens attend to it.
            use_cache: Whether to return the cache extended by this step.
            position_ids: [B, T] or [T] text positions; by default they continue after the cache's text
                (`past_key_values.text_length + arange(T)`), so pass them when texts are padded or out of order.
            masked_regions: [B, R] bool, regions masked for UNITER's masked region modelling; uniter style only
                (Oscar style has no mask embedding: zero the masked features instead).

        Returns:
            `VLOutput` with [B, T + R, H] states, [B, H] pooled output and the cache when `use_cache`.
        """
        if text is None and regions is None:
            raise ValueError("give text, regions or both")
        parts, masks = [], []
        if text is not None:
            input_ids = text.input_ids
            first_position = 0 if past_key_values is None else past_key_values.text_length
            parts.append(self.text_embeddings(input_ids, text.token_type_ids, position_ids, first_position))
            masks.append(
                torch.ones_like(input_ids, dtype=torch.bool) if text.text_mask is None else text.text_mask.bool()
            )
        if regions is not None:
            features = regions.features
            parts.append(self._embed_regions(features, regions.geometry, masked_regions))
            masks.append(
                torch.ones(features.shape[:2], dtype=torch.bool, device=features.device)
                if regions.mask is None
                else regions.mask.bool()
            )
        embeddings = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        layout = TokenLayout.from_mask(masks[0] if len(masks) == 1 else torch.cat(masks, dim=1))

        past_valid = None if past_key_values is None else past_key_values.key_valid
        mask = attention_mask(layout, past_valid, attention_mask_3d)
        past = None if past_key_values is None else (past_key_values.keys, past_key_values.values)
        hidden, present = self.encoder(layout.pack(embeddings), layout, mask, past, use_cache)

        pooled = torch.tanh(self.pooler(hidden.index_select(0, layout.first_token)))
        cache = None
        if present is not None:
            key_valid = layout.slot_valid if past_valid is None else torch.cat([past_valid, layout.slot_valid], dim=1)
            text_length = 0 if text is None else text.input_ids.shape[1]
            if past_key_values is not None:
                text_length += past_key_values.text_length
            cache = KVCache(tuple(present[0]), tuple(present[1]), key_valid, text_length)
        return VLOutput(layout.unpack(hidden), pooled, cache)

    def encode_text(self, text: TextInputs, projection: nn.Module) -> torch.Tensor:
        """Float[B, E] unit-norm embeddings of a text-only pass over each text's first segment (`[CLS] text [SEP]`,
        token type 0: text b, e.g. image-derived tags, is left out), as InfoNCE, retrieval shortlists and zero-shot
        classification compare them.

        Args:
            text: [B, T] texts.
            projection: the pooled-output projection (`EmbeddingProjection`, the `text_projection` head of a model
                pretrained with InfoNCE): [B, H] -> [B, E], L2-normalised; computed in float32 (`in_float32`).
        """
        token_types = torch.zeros_like(text.input_ids) if text.token_type_ids is None else text.token_type_ids
        real = torch.ones_like(text.input_ids, dtype=torch.bool) if text.text_mask is None else text.text_mask.bool()
        first_segment = TextInputs(text.input_ids, token_types, real & (token_types == 0))
        return in_float32(projection, self(first_segment).pooled_output)

    def encode_image(self, regions: RegionInputs, projection: nn.Module) -> torch.Tensor:
        """Float[B, E] unit-norm embeddings of an image-only pass over each example's regions.

        Args:
            regions: [B, R] regions.
            projection: the `image_projection` head of a model pretrained with InfoNCE: [B, H] -> [B, E], computed in
                float32.
        """
        return in_float32(projection, self(regions=regions).pooled_output)

    def _embed_regions(
        self, features: torch.Tensor, geometry: torch.Tensor, masked: torch.Tensor | None
    ) -> torch.Tensor:
        """[B, R, D] features and [B, R, G] geometry -> [B, R, H] embeddings, in the configured style."""
        if geometry.shape[-1] != self.config.geometry_dim:
            raise ValueError(
                f"{self.config.region_style}-style regions need {self.config.geometry_dim}-d geometry, "
                f"got {geometry.shape[-1]}"
            )
        if isinstance(self.region_embeddings, UniterRegionEmbeddings):
            # UNITER gives every region the token-type-1 embedding, shared with the text's type table.
            return self.region_embeddings(features, geometry, self.text_embeddings.token_type.weight[1], masked)
        if masked is not None:
            raise ValueError("oscar-style regions have no mask embedding: zero the masked features instead")
        return self.region_embeddings(features, geometry)
