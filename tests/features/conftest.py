"""Fixtures of the extract-features tests: a tiny demo world, random-weight checkpoints written to temporary files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from tests.features.images import pattern
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
    """A Faster R-CNN whose random batch-norm statistics are calibrated on a few images.

    With the default statistics (mean 0, variance 1) the random MobileNet's activations vanish (~1e-8) and every
    proposal gets the same scores, so that no test could tell one box from another.
    """
    torch.manual_seed(0)
    model = torchvision.models.get_model(
        "fasterrcnn_mobilenet_v3_large_320_fpn", weights=None, weights_backbone=None, num_classes=91
    ).eval()

    def calibrate(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        module.running_mean.copy_(args[0].mean(dim=(0, 2, 3)))
        module.running_var.copy_(args[0].var(dim=(0, 2, 3)) + 1e-5)

    hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    images = [torch.from_numpy(pattern(60, 90, seed)).permute(2, 0, 1).float() / 255 for seed in range(4)]
    with torch.no_grad():
        model.backbone(model.transform(images)[0].tensors)  # each layer calibrated on its input, in order
    for hook in hooks:
        hook.remove()
    path = tmp_path_factory.mktemp("weights") / "frcnn.pth"
    torch.save(model.state_dict(), path)
    return path
