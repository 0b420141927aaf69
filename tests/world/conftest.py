"""Worlds generated once per test session: two with the same arguments, one with another seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.world.reference import LoadedWorld
from vlp.world import WorldFiles, generate_world

# Small enough to generate in well under a second, big enough that every shape, colour, size and object count occurs.
NUM_IMAGES = 50
IMAGE_SIZE = 64


@pytest.fixture(scope="session")
def world_files(tmp_path_factory: pytest.TempPathFactory) -> WorldFiles:
    return generate_world(tmp_path_factory.mktemp("world"), num_images=NUM_IMAGES, seed=0, image_size=IMAGE_SIZE)


@pytest.fixture(scope="session")
def world(world_files: WorldFiles) -> LoadedWorld:
    return LoadedWorld.load(world_files)


@pytest.fixture(scope="session")
def twin_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("twin")
    generate_world(root, num_images=NUM_IMAGES, seed=0, image_size=IMAGE_SIZE)
    return root


@pytest.fixture(scope="session")
def other_seed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("other_seed")
    generate_world(root, num_images=NUM_IMAGES, seed=1, image_size=IMAGE_SIZE)
    return root
