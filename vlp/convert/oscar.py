"""Oscar / VinVL checkpoint folders (`config.json`, `pytorch_model.bin`, vocabulary) <-> vlp.

Oscar's `BertImgModel` is BERT (`bert.embeddings`, `bert.encoder`, `bert.pooler`) plus `bert.img_embedding`, a
Linear(img_feature_dim -> H) over the 2054-d region input (2048-d feature, 6-d geometry), followed when
`use_img_layernorm` by `bert.LayerNorm` (eps `img_layer_norm_eps`) and dropout; region embeddings are concatenated after
the text embeddings with no position or token-type embedding. That is `VLModel` with `region_style="oscar"`.

Heads, by the name they get here:
- `mlm`: `cls.predictions.*` (BERT's masked-token head; `cls.predictions.decoder.weight` is the tied word embeddings);
- `contrastive`: `cls.seq_relationship.*`, Linear(H -> `num_contrast_classes`), 2-way (Oscar) or 3-way (VinVL);
- `classifier`: a finetuning classifier on the (dropped-out) pooled output. `classifier: linear` is
  `classifier.weight/bias`. `classifier: mlp` is `nn.Sequential(Linear(H_in, H * cls_hidden_scale), ReLU, Linear(...,
  num_labels))` = `classifier.0`, `classifier.2` (`ImageBertForSequenceClassification`, e.g. VQA); the multiple-choice
  models with `use_img_layernorm` insert a LayerNorm (eps `layer_norm_eps`): `classifier.0`, `classifier.2` (LayerNorm),
  `classifier.3`. `H_in` is `num_choice * H` for multiple choice (NLVR2), which the head's `hidden_size` records.
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
from vlp.convert.hf_bert import BUFFERS, bert_config_dict, bert_config_fields
from vlp.model.config import GEOMETRY_DIMS, VLConfig
from vlp.model.heads import ClassificationHead, MLPClassificationHead

GEOMETRY_DIM = GEOMETRY_DIMS["oscar"]
HEAD_NAMES = ("mlm", "contrastive", "classifier")


def region_keys(config: VLConfig) -> dict[str, str]:
    """Key map of Oscar's region embedding: `bert.img_embedding` and, when configured, `bert.LayerNorm`."""
    modules = {"model.region_embeddings.proj": "bert.img_embedding"}
    if config.use_region_layernorm:
        modules["model.region_embeddings.norm"] = "bert.LayerNorm"
    return module_keys(modules)


def key_map(config: VLConfig, heads: dict[str, HeadSpec]) -> dict[str, str]:
    """{vlp name: Oscar name} for a model and its heads.

    Raises:
        CheckpointMismatchError: a head has no place in Oscar's layout.
    """
    keys = bert_backbone_keys(config, "bert.") | region_keys(config)
    for name, spec in heads.items():
        if name == "mlm":
            keys |= prefixed(BERT_MLM_HEAD_KEYS, "heads.mlm.", "cls.predictions.")
        elif name == "contrastive" and spec.cls is ClassificationHead:
            keys |= module_keys({"heads.contrastive.linear": "cls.seq_relationship"})
        elif name == "classifier" and spec.cls is ClassificationHead:
            keys |= module_keys({"heads.classifier.linear": "classifier"})
        elif name == "classifier" and spec.cls is MLPClassificationHead:
            if spec.init_args.get("hidden_act") != "relu":
                raise CheckpointMismatchError("Oscar's mlp classifier uses ReLU")
            if spec.init_args.get("use_layer_norm"):
                modules = {"dense": "classifier.0", "norm": "classifier.2", "out": "classifier.3"}
            else:
                modules = {"dense": "classifier.0", "out": "classifier.2"}
            keys |= prefixed(module_keys(modules), "heads.classifier.", "")
        else:
            raise CheckpointMismatchError(
                f"head {name!r} ({spec.class_path}) has no place in Oscar's layout ({', '.join(HEAD_NAMES)})"
            )
    return keys


def tied_keys(heads: dict[str, HeadSpec]) -> dict[str, str]:
    """Oscar names stored twice because Oscar ties them (alias -> original), for the heads present."""
    return {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"} if "mlm" in heads else {}


def config_from_oscar(oscar: dict[str, Any]) -> VLConfig:
    """The VLConfig of an Oscar config.json.

    Raises:
        ValueError: discrete-code image features (`img_feature_type` `dis_code*`), which `VLModel` does not embed.
    """
    if str(oscar.get("img_feature_type", "")).startswith("dis_code"):
        raise ValueError(f"img_feature_type {oscar['img_feature_type']!r} (discrete codes) is not supported")
    return VLConfig(
        **bert_config_fields(oscar),
        region_style="oscar",
        region_feature_dim=oscar.get("img_feature_dim", 2054) - GEOMETRY_DIM,
        use_region_layernorm=bool(oscar.get("use_img_layernorm")),
        region_layer_norm_eps=oscar.get("img_layer_norm_eps", 1e-12),
    )


def _heads(oscar: dict[str, Any], config: VLConfig, source: dict[str, torch.Tensor]) -> dict[str, HeadSpec]:
    heads: dict[str, HeadSpec] = {}
    if "cls.predictions.bias" in source:
        heads["mlm"] = mlm_head_spec(config)
    if "cls.seq_relationship.weight" in source:
        heads["contrastive"] = linear_head_spec(source["cls.seq_relationship.weight"])
    dropout = config.hidden_dropout  # Oscar drops out the pooled output before its classifier
    if "classifier.weight" in source:
        heads["classifier"] = linear_head_spec(source["classifier.weight"], dropout)
    elif "classifier.0.weight" in source:
        inner_size, hidden_size = source["classifier.0.weight"].shape
        use_layer_norm = "classifier.3.weight" in source
        out = source["classifier.3.weight" if use_layer_norm else "classifier.2.weight"]
        heads["classifier"] = _mlp_spec(hidden_size, out.shape[0], inner_size, use_layer_norm, config, dropout)
    elif "classifier" in oscar:  # a finetuning config over a checkpoint without the classifier: reported missing
        hidden_size, num_labels = config.hidden_size, oscar.get("num_labels", 2)
        if oscar["classifier"] == "linear":
            heads["classifier"] = HeadSpec(
                ClassificationHead, {"hidden_size": hidden_size, "num_classes": num_labels, "dropout": dropout}
            )
        else:
            inner_size = hidden_size * oscar.get("cls_hidden_scale", 2)
            heads["classifier"] = _mlp_spec(hidden_size, num_labels, inner_size, False, config, dropout)
    return heads


def _mlp_spec(
    hidden_size: int, num_classes: int, inner_size: int, use_layer_norm: bool, config: VLConfig, dropout: float
) -> HeadSpec:
    return HeadSpec(
        MLPClassificationHead,
        {
            "hidden_size": hidden_size,
            "num_classes": num_classes,
            "inner_size": inner_size,
            "hidden_act": "relu",
            "use_layer_norm": use_layer_norm,
            "layer_norm_eps": config.layer_norm_eps,
            "dropout": dropout,
        },
    )


def read_oscar(path: str | Path) -> Converted:
    """Reads an official Oscar/VinVL checkpoint folder (`config.json` and `pytorch_model.bin`).

    The heads present in the weights are converted; a `classifier` that the config names but the weights lack is
    reported missing (allow `heads.classifier` to start it fresh).
    """
    folder = Path(path)
    oscar = read_json(folder / "config.json")
    config = config_from_oscar(oscar)
    source = read_state_dict(find_weights(folder))
    heads = _heads(oscar, config, source)
    state, report = import_state_dict(
        source, key_map(config, heads), tied_keys(heads), ignored=[f"bert.{name}" for name in BUFFERS]
    )
    return Converted(config, heads, state, report, str(folder))


def oscar_config_dict(bundle: VLBundle) -> dict[str, Any]:
    """The Oscar config.json of a bundle: BERT's fields plus Oscar's image and head fields."""
    config = bundle.config
    oscar = bert_config_dict(config) | {
        "img_feature_dim": config.region_feature_dim + GEOMETRY_DIM,
        "img_feature_type": "faster_r-cnn",
        "use_img_layernorm": int(config.use_region_layernorm),
        "img_layer_norm_eps": config.region_layer_norm_eps,
    }
    if "contrastive" in bundle.head_specs:
        oscar["num_contrast_classes"] = bundle.head_specs["contrastive"].init_args["num_classes"]
    if "classifier" in bundle.head_specs:
        spec = bundle.head_specs["classifier"]
        oscar["num_labels"] = spec.init_args["num_classes"]
        if spec.cls is MLPClassificationHead:
            oscar |= {"classifier": "mlp", "cls_hidden_scale": spec.init_args["inner_size"] // config.hidden_size}
        else:
            oscar["classifier"] = "linear"
    return oscar


def write_oscar(bundle: VLBundle, path: str | Path, tokenizer_from: str | Path | None = None) -> None:
    """Writes a bundle as an Oscar checkpoint folder that Oscar's `from_pretrained` loads.

    Args:
        bundle: An oscar-style model with heads among `mlm`, `contrastive`, `classifier`.
        path: Output folder (created).
        tokenizer_from: Folder whose tokenizer files (vocab.txt, ...) to copy along.

    Raises:
        CheckpointMismatchError: the bundle has UNITER-style regions or a head Oscar has no place for.
    """
    if bundle.config.region_style != "oscar":
        raise CheckpointMismatchError("only oscar-style region embeddings fit Oscar's layout")
    heads = bundle.head_specs
    state = export_state_dict(bundle.state_dict(), key_map(bundle.config, heads), tied_keys(heads))
    write_checkpoint(path, state, "pytorch_model.bin", oscar_config_dict(bundle), tokenizer_from)
