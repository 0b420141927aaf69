"""UNITER checkpoints (a `.pt` state dict with `uniter.*` keys and a model-config JSON) <-> vlp.

UNITER's `UniterModel` is BERT text embeddings (`uniter.embeddings`, positions given, token type 0), region embeddings
(`uniter.img_embeddings`: `img_layer_norm(img_linear(feature)) + pos_layer_norm(pos_linear(7-d geometry))` plus the
token-type-1 embedding of the text table, then `LayerNorm` and dropout; masked regions first get `mask_embedding` row 1
added to their features), BERT layers (`uniter.encoder.layer.N`) and a pooler (`uniter.pooler`). Every LayerNorm has
eps 1e-12. UNITER packs each example's text and regions contiguously (`gather_index`); `VLModel` does the same
internally, so its outputs at real positions equal UNITER's. UNITER uses the cased BERT vocabulary (28,996 pieces),
which its release does not ship beside the weights.

Heads, by the name they get here:
- `mlm`: `cls.predictions.*` (its `decoder.weight` is the tied word embeddings);
- `itm`: `itm_output`, Linear(H -> 2); `rank`: `rank_output`, Linear(H -> 1) (retrieval finetuning);
- `region_regression`: `feat_regress` (`net.0` Linear, GELU, `net.2` LayerNorm, then the transposed, tied `img_linear`
  weight and an own `bias`);
- `region_label`: `region_classifier.net` (`0` Linear(H, H), GELU, `2` LayerNorm, `3` Linear(H, labels));
- `vqa`: `vqa_output` (`0` Linear(H, 2H), GELU, `2` LayerNorm, `3` Linear(2H, answers)).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vlp.convert.base import (
    BERT_MLM_HEAD_KEYS,
    CheckpointMismatchError,
    Converted,
    HeadSpec,
    VLBundle,
    bert_backbone_keys,
    export_state_dict,
    import_state_dict,
    linear_head_spec,
    mlm_head_spec,
    module_keys,
    prefixed,
)
from vlp.convert.files import find_weights, read_json, read_state_dict, write_checkpoint
from vlp.convert.hf_bert import bert_config_dict, bert_config_fields
from vlp.model.config import VLConfig
from vlp.model.heads import MLPClassificationHead, TiedPredictionHead

LAYER_NORM_EPS = 1e-12  # hard-coded in every UNITER LayerNorm, whatever the config says
WEIGHTS_NAME = "model.pt"

REGION_MODULES = {
    "feature_proj": "img_linear",
    "feature_norm": "img_layer_norm",
    "geometry_proj": "pos_linear",
    "geometry_norm": "pos_layer_norm",
    "norm": "LayerNorm",
}
# The Sequential layouts of UNITER's MLP heads (index 1 is the parameter-free GELU).
MLP_MODULES = {"dense": "0", "norm": "2", "out": "3"}
HEAD_PREFIXES = {
    "mlm": "cls.predictions.",
    "itm": "itm_output",
    "rank": "rank_output",
    "region_regression": "feat_regress.",
    "region_label": "region_classifier.net.",
    "vqa": "vqa_output.",
}


def region_keys() -> dict[str, str]:
    """Key map of UNITER's region embedding (`uniter.img_embeddings.*`)."""
    keys = prefixed(module_keys(REGION_MODULES), "model.region_embeddings.", "uniter.img_embeddings.")
    return keys | {"model.region_embeddings.mask_embedding": "uniter.img_embeddings.mask_embedding.weight"}


def key_map(config: VLConfig, heads: dict[str, HeadSpec]) -> dict[str, str]:
    """{vlp name: UNITER name} for a model and its heads.

    Raises:
        CheckpointMismatchError: a head has no place in UNITER's layout.
    """
    keys = bert_backbone_keys(config, "uniter.") | region_keys()
    for name in heads:
        if name not in HEAD_PREFIXES:
            raise CheckpointMismatchError(f"head {name!r} has no place in UNITER's layout ({', '.join(HEAD_PREFIXES)})")
        theirs = HEAD_PREFIXES[name]
        if name == "mlm":
            keys |= prefixed(BERT_MLM_HEAD_KEYS, "heads.mlm.", theirs)
        elif name in ("itm", "rank"):
            keys |= module_keys({f"heads.{name}.linear": theirs})
        elif name == "region_regression":
            keys |= prefixed(module_keys({"transform": "net.0", "norm": "net.2"}), "heads.region_regression.", theirs)
            keys["heads.region_regression.bias"] = theirs + "bias"
        else:
            keys |= prefixed(module_keys(MLP_MODULES), f"heads.{name}.", theirs)
    return keys


def tied_keys(heads: dict[str, HeadSpec]) -> dict[str, str]:
    """UNITER names stored twice because UNITER ties them (alias -> original), for the heads present."""
    tied = {}
    if "mlm" in heads:
        tied["cls.predictions.decoder.weight"] = "uniter.embeddings.word_embeddings.weight"
    if "region_regression" in heads:
        tied["feat_regress.weight"] = "uniter.img_embeddings.img_linear.weight"
    return tied


def _mlp_spec(hidden_size: int, out_weight: torch.Tensor) -> HeadSpec:
    num_classes, inner_size = out_weight.shape
    return HeadSpec(
        MLPClassificationHead,
        {
            "hidden_size": hidden_size,
            "num_classes": num_classes,
            "inner_size": inner_size,
            "hidden_act": "gelu",
            "use_layer_norm": True,
            "layer_norm_eps": LAYER_NORM_EPS,
        },
    )


def _heads(config: VLConfig, source: dict[str, torch.Tensor]) -> dict[str, HeadSpec]:
    hidden = config.hidden_size
    heads: dict[str, HeadSpec] = {}
    if "cls.predictions.bias" in source:
        heads["mlm"] = mlm_head_spec(config)
    for name in ("itm", "rank"):
        if f"{HEAD_PREFIXES[name]}.weight" in source:
            heads[name] = linear_head_spec(source[f"{HEAD_PREFIXES[name]}.weight"])
    if "feat_regress.bias" in source:
        init_args = {"hidden_size": hidden, "output_size": config.region_feature_dim, "layer_norm_eps": LAYER_NORM_EPS}
        heads["region_regression"] = HeadSpec(TiedPredictionHead, init_args)
    for name in ("region_label", "vqa"):
        out = f"{HEAD_PREFIXES[name]}3.weight"
        if out in source:
            heads[name] = _mlp_spec(hidden, source[out])
    return heads


def uniter_files(path: str | Path, config_path: str | Path | None = None) -> tuple[Path, Path]:
    """The weight file and model config of a UNITER checkpoint (arguments as `read_uniter`)."""
    path = Path(path)
    if path.is_dir():
        weights = path / WEIGHTS_NAME if (path / WEIGHTS_NAME).is_file() else find_weights(path)
        return weights, Path(config_path or path / "config.json")
    if config_path is None:
        raise ValueError("a UNITER .pt file needs its model config JSON (config_path)")
    return path, Path(config_path)


def read_uniter(path: str | Path, config_path: str | Path | None = None) -> Converted:
    """Reads a UNITER checkpoint.

    Args:
        path: A `.pt` state dict, or a folder with `config.json` and `model.pt` (or `model.safetensors`,
            `pytorch_model.bin`) as `write_uniter` writes it.
        config_path: UNITER's model config JSON (e.g. `config/uniter-base.json`); required when `path` is a file.
    """
    weights, config_path = uniter_files(path, config_path)
    uniter = read_json(config_path)
    source = read_state_dict(weights)
    if "uniter.img_embeddings.img_linear.weight" not in source:
        hint = " (an Oscar/VinVL checkpoint: use --from oscar)" if any(k.startswith("bert.") for k in source) else ""
        raise CheckpointMismatchError(f"{weights}: not a UNITER checkpoint, no uniter.img_embeddings tensors{hint}")
    config = VLConfig(
        **(bert_config_fields(uniter) | {"layer_norm_eps": LAYER_NORM_EPS}),
        region_style="uniter",
        region_feature_dim=source["uniter.img_embeddings.img_linear.weight"].shape[1],
    )
    heads = _heads(config, source)
    state, report = import_state_dict(source, key_map(config, heads), tied_keys(heads))
    return Converted(config, heads, state, report, str(weights))


def write_uniter(bundle: VLBundle, path: str | Path, tokenizer_from: str | Path | None = None) -> None:
    """Writes a bundle as a folder with UNITER's model config (`config.json`) and state dict (`model.pt`).

    Args:
        bundle: A uniter-style model with heads among those of UNITER's layout.
        path: Output folder (created).
        tokenizer_from: Folder whose tokenizer files to copy along (UNITER's code does not read them; they keep the
            vocabulary with the weights through later conversions).

    Raises:
        CheckpointMismatchError: the bundle has Oscar-style regions or a head UNITER has no place for.
    """
    if bundle.config.region_style != "uniter":
        raise CheckpointMismatchError("only uniter-style region embeddings fit UNITER's layout")
    heads = bundle.head_specs
    state = export_state_dict(bundle.state_dict(), key_map(bundle.config, heads), tied_keys(heads))
    write_checkpoint(path, state, WEIGHTS_NAME, uniter_config_dict(bundle.config), tokenizer_from)


def uniter_config_dict(config: VLConfig) -> dict[str, Any]:
    """UNITER's model config (BERT's fields; UNITER reads no `layer_norm_eps` or `pad_token_id`)."""
    values = bert_config_dict(config)
    for name in ("model_type", "layer_norm_eps", "pad_token_id"):
        values.pop(name)
    return values
