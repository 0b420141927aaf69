"""Official checkpoint folders and key names, as Oscar and UNITER write them, for the conversion tests."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from vlp.convert.reference import OscarReference, UniterReference
from vlp.model import VLConfig


def bert_keys(prefix: str) -> set[str]:
    """The official names of a one-layer BERT backbone (embeddings, layer 0, pooler) under `prefix` (`bert.`,
    `uniter.`), written out as BERT names them."""
    layer_modules = (
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
        "attention.output.LayerNorm",
        "intermediate.dense",
        "output.dense",
        "output.LayerNorm",
    )
    layer = {f"{prefix}encoder.layer.0.{module}.{name}" for module in layer_modules for name in ("weight", "bias")}
    return layer | {
        f"{prefix}embeddings.word_embeddings.weight",
        f"{prefix}embeddings.position_embeddings.weight",
        f"{prefix}embeddings.token_type_embeddings.weight",
        f"{prefix}embeddings.LayerNorm.weight",
        f"{prefix}embeddings.LayerNorm.bias",
        f"{prefix}pooler.dense.weight",
        f"{prefix}pooler.dense.bias",
    }


# The official names of BERT's masked-token head, as Oscar and UNITER hold it.
MLM_HEAD_KEYS = {
    "cls.predictions.bias",
    "cls.predictions.transform.dense.weight",
    "cls.predictions.transform.dense.bias",
    "cls.predictions.transform.LayerNorm.weight",
    "cls.predictions.transform.LayerNorm.bias",
    "cls.predictions.decoder.weight",
}


def oscar_config_json(config: VLConfig, **extra: object) -> dict[str, object]:
    """An Oscar config.json for `config`, in Oscar's (pytorch_transformers BertConfig) field names."""
    return {
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "intermediate_size": config.intermediate_size,
        "hidden_act": "gelu",
        "max_position_embeddings": config.max_position_embeddings,
        "type_vocab_size": config.type_vocab_size,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "layer_norm_eps": 1e-12,
        "img_feature_dim": config.region_feature_dim + 6,
        "img_feature_type": "faster_r-cnn",
        "use_img_layernorm": int(config.use_region_layernorm),
        "img_layer_norm_eps": config.region_layer_norm_eps,
        **extra,
    }


def save_oscar(folder: Path, reference: OscarReference, config_json: dict[str, object]) -> dict[str, torch.Tensor]:
    """Writes an official checkpoint folder the way Oscar's `save_pretrained` does; returns a copy of its state."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {key: value.clone() for key, value in reference.state_dict().items()}
    torch.save(reference.state_dict(), folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps(config_json))
    return state


def uniter_config_json(config: VLConfig) -> dict[str, object]:
    """UNITER's model config (config/uniter-base.json has these fields)."""
    return {
        "attention_probs_dropout_prob": 0.0,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": config.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": config.intermediate_size,
        "max_position_embeddings": config.max_position_embeddings,
        "num_attention_heads": config.num_heads,
        "num_hidden_layers": config.num_layers,
        "type_vocab_size": 2,
        "vocab_size": config.vocab_size,
    }


def save_uniter(folder: Path, reference: UniterReference, config: VLConfig) -> tuple[Path, Path]:
    """Writes a UNITER `.pt` checkpoint and its model config, as UNITER's release ships them."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(reference.state_dict(), folder / "uniter-tiny.pt")
    (folder / "uniter-tiny.json").write_text(json.dumps(uniter_config_json(config)))
    return folder / "uniter-tiny.pt", folder / "uniter-tiny.json"
