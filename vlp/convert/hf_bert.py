"""Hugging Face BERT-family checkpoint folders (config.json, weights, vocabulary) -> vlp.

The text part maps one to one onto `transformers.BertModel` (with or without the `bert.` prefix of the `BertFor*`
classes); a BERT has no region embeddings, so they are initialised fresh and reported as such. Heads found in the
checkpoint: `cls.predictions.*` (masked-token head, `mlm`), `cls.seq_relationship.*` (next-sentence head, which Oscar
reuses as its 2-way contrastive head, `contrastive`) and `classifier.*` (`BertForSequenceClassification`, `classifier`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlp.convert.base import (
    BERT_MLM_HEAD_KEYS,
    Converted,
    HeadSpec,
    LoadReport,
    bert_backbone_keys,
    import_state_dict,
    linear_head_spec,
    mlm_head_spec,
    module_keys,
    prefixed,
)
from vlp.convert.files import find_weights, read_json, read_state_dict
from vlp.model.config import RegionStyle, VLConfig

# BertConfig fields -> VLConfig fields.
CONFIG_FIELDS = {
    "vocab_size": "vocab_size",
    "hidden_size": "hidden_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "intermediate_size": "intermediate_size",
    "hidden_act": "hidden_act",
    "max_position_embeddings": "max_position_embeddings",
    "type_vocab_size": "type_vocab_size",
    "hidden_dropout_prob": "hidden_dropout",
    "attention_probs_dropout_prob": "attention_dropout",
    "layer_norm_eps": "layer_norm_eps",
    "pad_token_id": "pad_token_id",
    "initializer_range": "initializer_range",
}

# Buffers that some transformers versions saved beside the parameters.
BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")


def bert_config_fields(bert: dict[str, Any]) -> dict[str, Any]:
    """The VLConfig fields a BERT-style config.json gives (absent ones keep VLConfig's BERT-base defaults).

    Raises:
        ValueError: the config describes something `VLModel` does not compute (relative positions, a decoder).
    """
    if bert.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"position_embedding_type {bert['position_embedding_type']!r} is not supported")
    if bert.get("is_decoder") or bert.get("add_cross_attention"):
        raise ValueError("decoder BERTs (is_decoder, add_cross_attention) are not supported")
    return {ours: bert[theirs] for theirs, ours in CONFIG_FIELDS.items() if bert.get(theirs) is not None}


def bert_config_dict(config: VLConfig) -> dict[str, Any]:
    """The BERT config.json fields of `config` (the inverse of `bert_config_fields`)."""
    values = config.to_dict()
    return {"model_type": "bert"} | {theirs: values[ours] for theirs, ours in CONFIG_FIELDS.items()}


def read_hf_bert(
    path: str | Path,
    region_style: RegionStyle = "oscar",
    region_feature_dim: int = 2048,
    use_region_layernorm: bool = True,
) -> Converted:
    """Reads a BERT-family checkpoint folder; the region part is configured here and initialised fresh.

    Args:
        path: Folder with `config.json` and `model.safetensors` or `pytorch_model.bin` (sharded or not).
        region_style: Region embedding style of the new model.
        region_feature_dim: Width of the region features.
        use_region_layernorm: Oscar style only: LayerNorm after the region projection.

    Returns:
        The conversion; its report lists the pooler as missing when the checkpoint has none (sentence-transformers
        exports, for instance): allow `model.pooler` to keep a fresh one.
    """
    folder = Path(path)
    bert = read_json(folder / "config.json")
    if bert.get("model_type", "bert") != "bert":
        raise ValueError(f"{folder} holds a {bert['model_type']!r} model; only BERT-layout checkpoints are supported")
    config = VLConfig(
        **bert_config_fields(bert),
        region_style=region_style,
        region_feature_dim=region_feature_dim,
        use_region_layernorm=use_region_layernorm,
    )
    source = read_state_dict(find_weights(folder))
    prefix = "bert." if any(key.startswith("bert.") for key in source) else ""
    heads: dict[str, HeadSpec] = {}
    key_map = bert_backbone_keys(config, prefix)
    if "cls.predictions.bias" in source:
        heads["mlm"] = mlm_head_spec(config)
        key_map |= prefixed(BERT_MLM_HEAD_KEYS, "heads.mlm.", "cls.predictions.")
    if "cls.seq_relationship.weight" in source:
        heads["contrastive"] = linear_head_spec(source["cls.seq_relationship.weight"])
        key_map |= prefixed(module_keys({"linear": "seq_relationship"}), "heads.contrastive.", "cls.")
    if "classifier.weight" in source:
        heads["classifier"] = linear_head_spec(source["classifier.weight"], config.hidden_dropout)
        key_map |= module_keys({"heads.classifier.linear": "classifier"})
    tied = {
        "cls.predictions.decoder.weight": f"{prefix}embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }
    state, report = import_state_dict(source, key_map, tied, ignored=[prefix + name for name in BUFFERS])
    report = LoadReport(report.missing, report.unexpected, fresh=("model.region_embeddings",))
    return Converted(config, heads, state, report, str(folder))
