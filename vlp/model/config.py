"""`VLConfig`: the typed description of a single-stream vision-language transformer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from vlp.model.activations import ACTIVATIONS
from vlp.store.geometry import GEOMETRY_DIMS  # the geometry width per region style, as the region store derives it

RegionStyle = Literal["oscar", "uniter"]
AttentionInit = Literal["bert", "mimetic"]
ATTENTION_INITS: tuple[str, ...] = get_args(AttentionInit)


@dataclass(frozen=True)
class VLConfig:
    """Sizes and options of `VLModel`; defaults are BERT-base with Oscar-style regions.

    Attributes:
        vocab_size: Word-piece vocabulary size.
        hidden_size: Width H of every token state.
        num_layers: Number of encoder layers.
        num_heads: Attention heads per layer; must divide `hidden_size`.
        intermediate_size: Width of the feed-forward block.
        hidden_act: Activation of the feed-forward block and the masked-token head (`transformers` names).
        max_position_embeddings: Number of text positions.
        type_vocab_size: Number of token types (segments).
        hidden_dropout: Dropout on embeddings and on every residual branch.
        attention_dropout: Dropout on attention probabilities.
        layer_norm_eps: Epsilon of the text-embedding, encoder and UNITER region LayerNorms.
        pad_token_id: Padding token id (its embedding gets no gradient, as in BERT).
        region_style: `oscar` (Linear(D+6 -> H), optional LayerNorm) or `uniter` (feature and 7-d geometry projected
            and normalised separately, summed with the token-type-1 embedding, normalised).
        region_feature_dim: Width D of a region feature (2048 for bottom-up attention and VinVL features).
        use_region_layernorm: Oscar style only: LayerNorm after the region projection (Oscar's `use_img_layernorm`).
        region_layer_norm_eps: Epsilon of that LayerNorm (Oscar's `img_layer_norm_eps`).
        initializer_range: Standard deviation of the normal initialisation of weights.
        attention_init: `bert` draws the attention projections like every other weight; `mimetic` gives them the
            structure of pretrained attention (`vlp.model.init.mimetic_init`), so that a model trained from scratch
            learns to match words with tags and regions in hundreds of steps rather than thousands. Only random
            initialisation reads it: weights loaded from a checkpoint replace it.
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    region_style: RegionStyle = "oscar"
    region_feature_dim: int = 2048
    use_region_layernorm: bool = True
    region_layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    attention_init: AttentionInit = "bert"

    def __post_init__(self) -> None:
        errors = []
        for name in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
            "region_feature_dim",
        ):
            if getattr(self, name) <= 0:
                errors.append(f"{name} must be positive, got {getattr(self, name)}")
        if self.num_heads > 0 and self.hidden_size % self.num_heads:
            errors.append(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        for name in ("hidden_dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                errors.append(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.hidden_act not in ACTIVATIONS:
            errors.append(f"hidden_act {self.hidden_act!r} is not one of {', '.join(ACTIVATIONS)}")
        if self.region_style not in GEOMETRY_DIMS:
            errors.append(f"region_style {self.region_style!r} is not one of {', '.join(GEOMETRY_DIMS)}")
        if self.attention_init not in ATTENTION_INITS:
            errors.append(f"attention_init {self.attention_init!r} is not one of {', '.join(ATTENTION_INITS)}")
        if self.region_style == "uniter" and self.type_vocab_size < 2:
            errors.append("region_style 'uniter' gives regions token type 1, so type_vocab_size must be >= 2")
        if errors:
            raise ValueError("invalid VLConfig:\n  " + "\n  ".join(errors))

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_heads

    @property
    def geometry_dim(self) -> int:
        """Width of the box-geometry vector the region embedding expects (6 for oscar, 7 for uniter)."""
        return GEOMETRY_DIMS[self.region_style]

    def to_dict(self) -> dict[str, Any]:
        """Returns the fields as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VLConfig:
        """Builds a config from `to_dict`'s output.

        Raises:
            ValueError: naming every unknown key at once, or listing every invalid value.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown VLConfig keys: {', '.join(unknown)}")
        return cls(**values)
