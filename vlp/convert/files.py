"""Checkpoint files: safetensors, PyTorch pickles (read as weights only), shard indexes, tokenizer files."""

from __future__ import annotations

import json
import pickle
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


class CheckpointFileError(ValueError):
    """A checkpoint file that cannot be read as what it should be (JSON, tensors); the message names the file."""


def read_json(path: Path) -> dict[str, Any]:
    """Reads a JSON object.

    Raises:
        FileNotFoundError: naming the file.
        CheckpointFileError: the file is not UTF-8 JSON, or holds something other than an object.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with open(path, encoding="utf-8") as file:
            value = json.load(file)
    except json.JSONDecodeError as error:
        raise CheckpointFileError(f"{path}: not valid JSON: {error}") from error
    except UnicodeDecodeError as error:
        message = f"{path}: not valid JSON: not UTF-8 text ({error.reason} at byte {error.start})"
        raise CheckpointFileError(message) from error
    if not isinstance(value, dict):
        raise CheckpointFileError(f"{path}: holds a JSON {type(value).__name__}, not an object")
    return value


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
        FileNotFoundError: naming the file.
        CheckpointFileError: the file is not a checkpoint, or holds something other than a flat dict of tensors.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    if path.name.endswith(".index.json"):
        weight_map = read_json(path).get("weight_map")
        if not isinstance(weight_map, dict):
            raise CheckpointFileError(f"{path}: a shard index needs a 'weight_map' object")
        state: dict[str, torch.Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            state |= read_state_dict(path.parent / shard)
        return state
    state = _load_tensors(path)
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointFileError(f"{path} is not a flat state dict of tensors")
    return {_legacy_name(key): value for key, value in state.items()}


def _load_tensors(path: Path) -> object:
    """What a safetensors file or a PyTorch pickle holds, read as data only.

    Raises:
        CheckpointFileError: naming the file, for anything that is not such a file or that holds Python objects a
            weights-only read refuses (those are never loaded: a checkpoint is data, never code).
    """
    if path.suffix == ".safetensors":
        try:
            return load_file(path)
        except Exception as error:  # safetensors raises its own error types for every kind of bad file
            raise CheckpointFileError(f"{path}: not a safetensors file ({error})") from error
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's message suggests weights_only=False, which would run the file's code: never repeat it.
        if "GLOBAL" in str(error):
            raise CheckpointFileError(
                f"{path}: holds Python objects besides tensors, which a checkpoint read as data cannot load"
            ) from error
        raise CheckpointFileError(f"{path}: not a PyTorch checkpoint (an unreadable pickle)") from error
    except Exception as error:  # a file that is no checkpoint at all fails in the unpickler in many ways
        raise CheckpointFileError(f"{path}: not a PyTorch checkpoint ({type(error).__name__}: {error})") from error


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
