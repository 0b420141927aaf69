"""Torch plumbing shared by the torchvision-based backends: devices, weight files, random initialisation, tensors."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

logger = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """ "auto" is the first CUDA device when there is one, else the CPU; anything else is passed to `torch.device`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def file_fingerprint(path: str | Path) -> dict[str, str]:
    """{"file": name, "sha256": digest}: names a file by its content, so provenance does not depend on where it lies."""
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return {"file": path.name, "sha256": digest.hexdigest()}


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Loads a state dict saved with `torch.save` (bare, or under a "state_dict" / "model" key) into `model`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: keys that the model lacks or that the file lacks, all of them named.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{path} does not fit {type(model).__name__}: missing keys {result.missing_keys or 'none'}; "
            f"unexpected keys {result.unexpected_keys or 'none'}"
        )


def build_with_weights(build: Callable[[], nn.Module], weights: str | Path | None, seed: int, what: str) -> nn.Module:
    """Builds a model and loads `weights`; without weights, initialises it randomly from `seed` and warns loudly.

    The seed makes random weights identical in every process and every resumed run, so that shards agree.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build()
    if weights is not None:
        load_weights(model, weights)
    else:
        logger.warning(
            "%s %s has RANDOM WEIGHTS (seed %d): no weights file was given. Region features will carry little meaning; "
            "pass a weights path for real use. %s",
            "!" * 12,
            what,
            seed,
            "!" * 12,
        )
    return model.eval()


def weights_provenance(weights: str | Path | None, seed: int) -> dict[str, Any]:
    """The weights' fingerprint, or the seed of random weights."""
    return file_fingerprint(weights) if weights is not None else {"random_init_seed": seed}


def image_tensor(pixels: np.ndarray, device: torch.device) -> torch.Tensor:
    """[H, W, 3] uint8 RGB to a [3, H, W] float tensor in [0, 1] on `device` (converted there, to move 4x less data)."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).to(device).permute(2, 0, 1).float().div_(255.0)


def level_scale(feature_size: int, input_size: int) -> float:
    """The power-of-two scale of a feature map against its input (as torchvision's MultiScaleRoIAlign infers it):
    a stride-32 map of a 100-pixel input has 4 cells, yet its scale is exactly 1/32."""
    return float(2.0 ** round(float(np.log2(feature_size / input_size))))
