"""Initial weights of any task's run: a vlp folder, a Hugging Face BERT, an Oscar/VinVL folder, a UNITER checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from vlp.convert.base import Converted, check_shapes
from vlp.convert.folder import read_folder
from vlp.convert.hf_bert import read_hf_bert
from vlp.convert.oscar import read_oscar
from vlp.convert.uniter import read_uniter
from vlp.model import VLConfig, VLModel

InitFormat = Literal["vlp", "hf-bert", "oscar", "uniter"]

# Fields that describe training, not the architecture: a checkpoint may differ from the run's config in these.
TRAINING_FIELDS = ("hidden_dropout", "attention_dropout", "initializer_range", "attention_init")


def uniter_config_beside(path: Path) -> Path:
    """The model config JSON of a UNITER `.pt` file: `<name>.json` beside it, else `config.json` in its folder.

    Raises:
        FileNotFoundError: naming both places.
    """
    candidates = (path.with_suffix(".json"), path.parent / "config.json")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{path}: a UNITER checkpoint needs its model config JSON (e.g. UNITER's config/uniter-base.json) at "
        f"{candidates[0]} or {candidates[1]}"
    )


def read_checkpoint(path: str | Path, format: InitFormat, config: VLConfig) -> Converted:
    """Reads a checkpoint in vlp names; a BERT gets the region part that `config` asks for.

    Args:
        path: the checkpoint: a folder for `vlp`, `hf-bert` and `oscar`; for `uniter` a folder as `vlp convert` writes
            it, or UNITER's released `.pt` file with its model config beside it (`uniter_config_beside`).
        format: the checkpoint's format.
        config: the run's model config.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"init_from {path} does not exist (a vlp folder written by pretraining, or a {format} checkpoint); pass "
            "--model.init_args.init_from=null to start from random weights"
        )
    if format == "hf-bert":
        return read_hf_bert(path, config.region_style, config.region_feature_dim, config.use_region_layernorm)
    if format == "oscar":
        return read_oscar(path)
    if format == "uniter":
        return read_uniter(path, None if path.is_dir() else uniter_config_beside(path))
    return read_folder(path)


def load_initial_weights(model: VLModel, heads: nn.ModuleDict, path: str | Path, format: InitFormat) -> list[str]:
    """Copies a checkpoint's weights into a freshly built model and the heads it shares with the checkpoint.

    The model must be complete in the checkpoint except for what the format has no place for (a BERT's region
    embeddings, a pooler that sentence-transformers exports drop); a head is copied when the checkpoint has one of the
    same name and shape (BERT's `cls.predictions` as `mlm`, Oscar's `cls.seq_relationship` as `contrastive`), and
    otherwise starts fresh. Each part that starts fresh is logged (on rank zero) as "PATH: initialised fresh: PART".

    Returns:
        The parts that start fresh, by module name ("model.pooler", "heads.classifier").

    Raises:
        ValueError: the checkpoint's architecture differs from `model.config`, naming every field.
        CheckpointMismatchError: tensors of the model are missing from the checkpoint.
    """
    converted = read_checkpoint(path, format, model.config)
    ours, theirs = model.config.to_dict(), converted.config.to_dict()
    different = [
        f"{key} {theirs[key]!r} (config: {ours[key]!r})"
        for key in ours
        if key not in TRAINING_FIELDS
        and ours[key] != theirs[key]
        # A larger vocabulary extends the checkpoint's (`vlp vocab build --extend`): its new pieces start fresh.
        and not (key == "vocab_size" and ours[key] > theirs[key])
    ]
    if different:
        raise ValueError(f"{path} holds another architecture than the config: {', '.join(different)}")
    converted.report.check(allow_missing=("heads.", "model.pooler"))
    state = grow_vocabulary(converted.state_dict, model, heads)
    model_state = {key.removeprefix("model."): value for key, value in state.items() if key.startswith("model.")}
    check_shapes(model_state, model.state_dict(), str(path))
    result = model.load_state_dict(model_state, strict=False)
    if result.unexpected_keys:
        raise RuntimeError(f"unexpected tensors for the model: {result.unexpected_keys}")
    fresh = [f"model.{key}" for key in result.missing_keys]
    for name, head in heads.items():
        prefix = f"heads.{name}."
        head_state = {key.removeprefix(prefix): value for key, value in state.items() if key.startswith(prefix)}
        expected = head.state_dict()
        if head_state.keys() == expected.keys() and all(
            head_state[key].shape == expected[key].shape for key in expected
        ):
            head.load_state_dict(head_state)
        else:
            fresh.append(f"heads.{name}")
    parts = _collapse(fresh)
    for part in parts:
        rank_zero_info(f"{path}: initialised fresh: {part}")
    return parts


def grow_vocabulary(state: dict[str, torch.Tensor], model: VLModel, heads: nn.ModuleDict) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors with its word embeddings (and the masked-token head's bias) grown to the model's
    vocabulary: the checkpoint's pieces keep their rows, the new pieces (appended by `vlp vocab build --extend`) get
    the freshly initialised rows of `model` and `heads`."""
    grown = dict(state)
    for key, fresh in (
        ("model.text_embeddings.word.weight", model.text_embeddings.word.weight),
        ("heads.mlm.bias", heads["mlm"].bias if "mlm" in heads else None),
    ):
        if fresh is None or key not in state or state[key].shape[0] >= fresh.shape[0]:
            continue
        known = state[key].shape[0]
        grown[key] = torch.cat([state[key], fresh.detach()[known:].to(state[key].dtype)])
        rank_zero_info(f"{key}: {fresh.shape[0] - known} new word pieces start fresh after the checkpoint's {known}")
    return grown


def _collapse(names: list[str]) -> list[str]:
    """Module prefixes of fresh tensors (`model.region_embeddings.*` once rather than per tensor)."""
    modules = []
    for name in names:
        module = name.rsplit(".", 1)[0] if name.startswith("model.") else name
        if module not in modules:
            modules.append(module)
    return modules
