"""What every checkpoint format shares: the vlp naming, key maps, and the report of missing and unexpected keys.

A converted checkpoint is a `VLBundle`'s state dict: `model.*` for `VLModel` and `heads.<name>.*` for each head. Each
format module (`hf_bert`, `oscar`, `uniter`, `folder`) builds an explicit key map `{vlp name: name in that format}`
and hands it to `import_state_dict` / `export_state_dict`, which never drop or invent a key silently.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from vlp.model.config import VLConfig
from vlp.model.heads import ClassificationHead, TiedPredictionHead
from vlp.model.model import VLModel

# BERT's per-layer modules, ours -> the name under `encoder.layer.<i>.` in BERT, Oscar and UNITER checkpoints. Every
# one is a Linear or a LayerNorm, so each maps a `weight` and a `bias`.
BERT_LAYER_MODULES: dict[str, str] = {
    "attention.query": "attention.self.query",
    "attention.key": "attention.self.key",
    "attention.value": "attention.self.value",
    "attention.out": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "ffn_in": "intermediate.dense",
    "ffn_out": "output.dense",
    "ffn_norm": "output.LayerNorm",
}

# BERT's text embeddings and pooler, ours (under `model.`) -> BERT's (under the format's backbone prefix).
BERT_EMBEDDING_KEYS: dict[str, str] = {
    "text_embeddings.word.weight": "embeddings.word_embeddings.weight",
    "text_embeddings.position.weight": "embeddings.position_embeddings.weight",
    "text_embeddings.token_type.weight": "embeddings.token_type_embeddings.weight",
    "text_embeddings.norm.weight": "embeddings.LayerNorm.weight",
    "text_embeddings.norm.bias": "embeddings.LayerNorm.bias",
}
BERT_POOLER_KEYS: dict[str, str] = {"pooler.weight": "pooler.dense.weight", "pooler.bias": "pooler.dense.bias"}

# BERT's masked-token head (`cls.predictions.*` in BERT, Oscar and UNITER), ours (a `TiedPredictionHead`) -> theirs.
# Its `decoder.weight` is the word-embedding matrix again, a tied alias rather than a parameter of its own.
BERT_MLM_HEAD_KEYS: dict[str, str] = {
    "transform.weight": "transform.dense.weight",
    "transform.bias": "transform.dense.bias",
    "norm.weight": "transform.LayerNorm.weight",
    "norm.bias": "transform.LayerNorm.bias",
    "bias": "bias",
}


def prefixed(mapping: Mapping[str, str], ours: str, theirs: str) -> dict[str, str]:
    """Prepends `ours` to the keys and `theirs` to the values of a key map."""
    return {ours + key: theirs + value for key, value in mapping.items()}


def module_keys(modules: Mapping[str, str]) -> dict[str, str]:
    """Expands a map `{ours: theirs}` of Linear and LayerNorm modules to their `weight` and `bias`."""
    return {f"{ours}.{name}": f"{theirs}.{name}" for ours, theirs in modules.items() for name in ("weight", "bias")}


def bert_backbone_keys(config: VLConfig, prefix: str) -> dict[str, str]:
    """Key map of the text embeddings, encoder layers and pooler of a BERT-layout checkpoint.

    Args:
        config: The model's config (for the number of layers).
        prefix: The backbone's prefix in the checkpoint: "" (BertModel), "bert." (Oscar, BertFor*), "uniter.".
    """
    keys = prefixed(BERT_EMBEDDING_KEYS, "model.", prefix)
    layer_keys = module_keys(BERT_LAYER_MODULES)
    for index in range(config.num_layers):
        keys |= prefixed(layer_keys, f"model.encoder.layers.{index}.", f"{prefix}encoder.layer.{index}.")
    return keys | prefixed(BERT_POOLER_KEYS, "model.", prefix)


@dataclass(frozen=True)
class HeadSpec:
    """How to build a head: its class and constructor arguments (plain values)."""

    cls: type[nn.Module]
    init_args: dict[str, Any]

    def build(self) -> nn.Module:
        """Instantiates the head."""
        return self.cls(**self.init_args)

    @property
    def class_path(self) -> str:
        """`module.Class`, as LightningCLI names classes."""
        return f"{self.cls.__module__}.{self.cls.__qualname__}"

    @classmethod
    def from_class_path(cls, class_path: str, init_args: dict[str, Any]) -> HeadSpec:
        """Resolves `module.Class` to the class."""
        module, _, name = class_path.rpartition(".")
        head_class = getattr(importlib.import_module(module), name)
        if not (isinstance(head_class, type) and issubclass(head_class, nn.Module)):
            raise TypeError(f"{class_path} is not an nn.Module class")
        return cls(head_class, dict(init_args))


def mlm_head_spec(config: VLConfig) -> HeadSpec:
    """BERT's masked-token head for `config` (`cls.predictions` in BERT, Oscar and UNITER checkpoints)."""
    return HeadSpec(
        TiedPredictionHead,
        {
            "hidden_size": config.hidden_size,
            "output_size": config.vocab_size,
            "hidden_act": config.hidden_act,
            "layer_norm_eps": config.layer_norm_eps,
            "initializer_range": config.initializer_range,
        },
    )


def linear_head_spec(weight: torch.Tensor, dropout: float = 0.0) -> HeadSpec:
    """A `ClassificationHead` shaped like a checkpoint's [C, H] Linear weight."""
    return HeadSpec(
        ClassificationHead, {"hidden_size": weight.shape[1], "num_classes": weight.shape[0], "dropout": dropout}
    )


def head_spec(head: nn.Module) -> HeadSpec:
    """Recovers a head's spec from the convention that it stores each constructor argument under its own name.

    Raises:
        TypeError: the head does not follow the convention.
    """
    parameters = list(inspect.signature(type(head).__init__).parameters)[1:]
    missing = [name for name in parameters if not hasattr(head, name)]
    if missing:
        raise TypeError(f"{type(head).__name__} does not store its constructor arguments {missing} as attributes")
    return HeadSpec(type(head), {name: getattr(head, name) for name in parameters})


class VLBundle(nn.Module):
    """A `VLModel` and named heads: the unit that checkpoints of every format convert to and from.

    Its state dict names are the vlp names (`model.*`, `heads.<name>.*`). Wrap a task's own modules to export them:
    `write_folder(VLBundle(module.model, {"mlm": module.mlm_head}), path)`.
    """

    def __init__(self, model: VLModel, heads: Mapping[str, nn.Module] | None = None) -> None:
        super().__init__()
        self.model = model
        self.heads = nn.ModuleDict(dict(heads or {}))

    @classmethod
    def create(cls, config: VLConfig, heads: Mapping[str, HeadSpec] | None = None) -> VLBundle:
        """A freshly initialised model with the given heads."""
        return cls(VLModel(config), {name: spec.build() for name, spec in (heads or {}).items()})

    @property
    def config(self) -> VLConfig:
        """The model's config."""
        return self.model.config

    @property
    def head_specs(self) -> dict[str, HeadSpec]:
        """How to rebuild each head (see `head_spec`)."""
        return {name: head_spec(head) for name, head in self.heads.items()}


class CheckpointMismatchError(ValueError):
    """A checkpoint lacks keys the model needs or holds keys nothing maps; the message names every one."""


def _matches(key: str, prefixes: Collection[str]) -> bool:
    return any(key == prefix or key.startswith(prefix.rstrip(".") + ".") for prefix in prefixes)


@dataclass(frozen=True)
class LoadReport:
    """Keys a conversion could not match, by name.

    Attributes:
        missing: vlp names the model or a head needs that the source lacks -> their name in the source format.
        unexpected: source names that nothing maps to.
        fresh: vlp-name prefixes of parts the source format has no place for (e.g. the region embeddings of a text-only
            BERT); they keep their initialisation. Reported, never an error.
    """

    missing: dict[str, str] = field(default_factory=dict)
    unexpected: tuple[str, ...] = ()
    fresh: tuple[str, ...] = ()

    def check(self, allow_missing: Collection[str] = (), allow_unexpected: Collection[str] = ()) -> None:
        """Raises unless every mismatch is allowed.

        Args:
            allow_missing: vlp-name prefixes that may be missing (they keep their fresh initialisation), e.g.
                `heads.classifier` for a new finetuning head, or `model.pooler` for a BERT saved without one.
            allow_unexpected: source-name prefixes that may go unused, e.g. a task head of another task.

        Raises:
            CheckpointMismatchError: naming every key that is not allowed.
        """
        missing = [
            f"{ours} (source name {theirs})"
            for ours, theirs in self.missing.items()
            if not _matches(ours, allow_missing)
        ]
        unexpected = [key for key in self.unexpected if not _matches(key, allow_unexpected)]
        if missing or unexpected:
            lines = [f"missing: {key}" for key in missing] + [f"unexpected: {key}" for key in unexpected]
            raise CheckpointMismatchError(
                "checkpoint does not match the model (allow prefixes explicitly to accept):\n  " + "\n  ".join(lines)
            )

    def lines(self) -> list[str]:
        """One line per mismatch, for printing."""
        return (
            [f"initialised fresh: {prefix}.*" for prefix in self.fresh]
            + [f"missing: {ours} (source name {theirs})" for ours, theirs in self.missing.items()]
            + [f"unexpected: {key}" for key in self.unexpected]
        )


def import_state_dict(
    source: Mapping[str, torch.Tensor],
    key_map: Mapping[str, str],
    tied: Mapping[str, str] | None = None,
    ignored: Collection[str] = (),
) -> tuple[dict[str, torch.Tensor], LoadReport]:
    """Renames a checkpoint's tensors to vlp names.

    Args:
        source: The checkpoint's state dict, in its own names.
        key_map: {vlp name: source name} for every tensor the target needs.
        tied: {alias: original} source names stored twice because the original model ties them (e.g. a masked-token
            decoder and the word embeddings); an alias is checked to equal its original and then dropped.
        ignored: Source names that are known not to be parameters (e.g. a `position_ids` buffer).

    Returns:
        The renamed tensors and the report of keys missing from the source or unused.

    Raises:
        CheckpointMismatchError: a tied alias differs from its original (the checkpoint is not tied as expected).
    """
    tied = tied or {}
    for alias, original in tied.items():
        if alias in source and original in source and not torch.equal(source[alias], source[original]):
            raise CheckpointMismatchError(f"{alias} should be tied to {original} but holds different values")
    state = {ours: source[theirs] for ours, theirs in key_map.items() if theirs in source}
    missing = {ours: theirs for ours, theirs in key_map.items() if theirs not in source}
    used = set(key_map.values()) | set(tied) | set(ignored)
    unexpected = tuple(sorted(key for key in source if key not in used))
    return state, LoadReport(missing, unexpected)


def export_state_dict(
    state: Mapping[str, torch.Tensor], key_map: Mapping[str, str], tied: Mapping[str, str] | None = None
) -> dict[str, torch.Tensor]:
    """Renames vlp tensors to a format's names, writing tied aliases as the original model saves them.

    Raises:
        CheckpointMismatchError: some vlp tensor has no name in the format, naming every one.
    """
    unmapped = sorted(set(state) - set(key_map))
    if unmapped:
        raise CheckpointMismatchError("no place in the target format for:\n  " + "\n  ".join(unmapped))
    out = {key_map[ours]: tensor for ours, tensor in state.items()}
    for alias, original in (tied or {}).items():
        if original in out:
            out[alias] = out[original]
    return out


def check_shapes(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: str) -> None:
    """Refuses tensors whose shape differs from the model's, before `load_state_dict` would fail on them.

    Args:
        state: the checkpoint's tensors, in vlp names.
        expected: the built model's state dict (the shapes its config gives).
        source: the checkpoint, for the message.

    Raises:
        CheckpointMismatchError: naming each such tensor (up to five) with both shapes.
    """
    wrong = [
        f"{key} is {list(tensor.shape)} there but {list(expected[key].shape)} in the model its config describes"
        for key, tensor in state.items()
        if key in expected and tensor.shape != expected[key].shape
    ]
    if wrong:
        more = f" (and {len(wrong) - 5} more)" if len(wrong) > 5 else ""
        raise CheckpointMismatchError(f"{source}: tensor shapes differ: {'; '.join(wrong[:5])}{more}")


@dataclass
class Converted:
    """A checkpoint read from some format: the config, the heads found, the tensors in vlp names and the report."""

    config: VLConfig
    heads: dict[str, HeadSpec]
    state_dict: dict[str, torch.Tensor]
    report: LoadReport
    source: str = "the checkpoint"

    def build(self, allow_missing: Collection[str] = (), allow_unexpected: Collection[str] = ()) -> VLBundle:
        """Instantiates the model and heads and loads the tensors (see `LoadReport.check` for the arguments).

        Allowed missing tensors keep their fresh initialisation.
        """
        self.report.check(allow_missing, allow_unexpected)
        bundle = VLBundle.create(self.config, self.heads)
        check_shapes(self.state_dict, bundle.state_dict(), self.source)
        result = bundle.load_state_dict(self.state_dict, strict=False)
        # Key maps are built from the bundle's own layout, so anything else here is a bug in a key map.
        stray = {key for key in result.missing_keys if key not in self.report.missing}
        stray = {key for key in stray if not _matches(key, self.report.fresh)}
        if stray or result.unexpected_keys:
            raise RuntimeError(f"key map out of step with the model: missing {stray}, extra {result.unexpected_keys}")
        return bundle
