"""Fixtures of the extract-features tests: a tiny demo world, random-weight checkpoints written to temporary files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from vlp.world import WorldFiles, generate_world

# Small enough for a CPU test, with every split non-empty.
WORLD_IMAGES = 12
WORLD_SIZE = 64


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldFiles:
    return generate_world(tmp_path_factory.mktemp("world"), num_images=WORLD_IMAGES, seed=3, image_size=WORLD_SIZE)


def save_random_weights(path: Path, name: str, **kwargs: object) -> Path:
    """A torchvision model with seeded random weights, saved as a state dict (stands in for a downloaded file)."""
    torch.manual_seed(0)
    torch.save(torchvision.models.get_model(name, weights=None, **kwargs).state_dict(), path)
    return path


@pytest.fixture(scope="session")
def resnet18_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_random_weights(tmp_path_factory.mktemp("weights") / "resnet18.pth", "resnet18")


@pytest.fixture(scope="session")
def detector_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "frcnn.pth"
    return save_random_weights(path, "fasterrcnn_mobilenet_v3_large_320_fpn", weights_backbone=None, num_classes=91)
