"""Checkpoint files: safetensors, PyTorch pickles (read as weights only), shard indexes, tokenizer files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

# Weight files looked for in a checkpoint folder, in order of preference.
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)

# The config file of every checkpoint folder (vlp, Oscar, Hugging Face, UNITER as `write_uniter` writes it).
CONFIG_NAME = "config.json"

# Tokenizer files that travel with a checkpoint through every conversion.
TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
)


def read_json(path: Path) -> dict[str, Any]:
    """Reads a JSON object."""
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Writes a JSON object, indented and with sorted keys off (the order is meaningful to readers)."""
    with open(path, "w", encoding="utf-8") as file:
        json.dump(value, file, indent=2)
        file.write("\n")


def find_weights(folder: Path) -> Path:
    """The weight file (or shard index) of a checkpoint folder.

    Raises:
        FileNotFoundError: naming the files looked for.
    """
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"no weights in {folder}: looked for {', '.join(WEIGHT_FILES)}")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Reads tensors from a safetensors file, a PyTorch pickle or a `*.index.json` of shards, onto the CPU.

    Pickles are read with `weights_only=True`: a checkpoint is data, never code. Legacy TensorFlow-era LayerNorm names
    (`gamma`, `beta`) are renamed to `weight`, `bias`, as BERT and UNITER loaders do.

    Raises:
        ValueError: the file holds something other than a flat dict of tensors.
    """
    if path.name.endswith(".index.json"):
        shards = sorted(set(read_json(path)["weight_map"].values()))
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state |= read_state_dict(path.parent / shard)
        return state
    if path.suffix == ".safetensors":
        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{path} is not a flat state dict of tensors")
    return {_legacy_name(key): value for key, value in state.items()}


def _legacy_name(key: str) -> str:
    if key.endswith(".gamma"):
        return key.removesuffix(".gamma") + ".weight"
    if key.endswith(".beta"):
        return key.removesuffix(".beta") + ".bias"
    return key


def save_safetensors(state: dict[str, torch.Tensor], path: Path) -> None:
    """Writes tensors as safetensors (contiguous copies where needed)."""
    save_file({key: value.detach().contiguous() for key, value in state.items()}, path)


def save_pickle(state: dict[str, torch.Tensor], path: Path) -> None:
    """Writes tensors with `torch.save`, the format Oscar and UNITER read; tied aliases stay shared storage."""
    torch.save({key: value.detach() for key, value in state.items()}, path)


def copy_tokenizer_files(source: Path, destination: Path) -> list[str]:
    """Copies the tokenizer files found in `source` (a folder, or a file's folder) to `destination`.

    Returns:
        The names copied.
    """
    folder = source if source.is_dir() else source.parent
    copied = []
    for name in TOKENIZER_FILES:
        if (folder / name).is_file() and folder.resolve() != destination.resolve():
            shutil.copy2(folder / name, destination / name)
            copied.append(name)
    return copied


def write_checkpoint(
    path: str | Path,
    state: dict[str, torch.Tensor],
    weights_name: str,
    config: dict[str, Any],
    tokenizer_from: str | Path | None = None,
) -> None:
    """Writes a checkpoint folder (created): the tensors, a config, and the tokenizer files of another folder.

    Args:
        path: Output folder.
        state: The tensors, in the format's names.
        weights_name: Their file name: safetensors when it ends in `.safetensors`, else a PyTorch pickle.
        config: The format's config (`CONFIG_NAME`).
        tokenizer_from: Folder (or a file in it) whose tokenizer files to copy along.
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    save = save_safetensors if weights_name.endswith(".safetensors") else save_pickle
    save(state, folder / weights_name)
    write_json(folder / CONFIG_NAME, config)
    if tokenizer_from is not None:
        copy_tokenizer_files(Path(tokenizer_from), folder)
