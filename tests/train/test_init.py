"""Initial weights for any task from a UNITER checkpoint as released (`.pt` and its model config), without converting
it first, and the errors when it cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from finetune.retrieval import RetrievalModule
from finetune.vqa import VQAModule
from tests.convert.official import save_uniter
from tests.model.factories import randomize_, tiny
from vlp.convert.reference import UniterReference
from vlp.convert.uniter import read_uniter
from vlp.pretrain import ObjectiveWeights, PretrainModule

CONFIG = tiny(region_style="uniter", layer_norm_eps=1e-12)


@pytest.fixture
def uniter(tmp_path: Path) -> Path:
    weights, _ = save_uniter(tmp_path, randomize_(UniterReference(CONFIG, mlm=True, itm=True)), CONFIG)
    return weights


def test_pretraining_and_vqa_start_from_a_released_uniter_checkpoint(uniter: Path):
    expected = read_uniter(uniter, uniter.with_suffix(".json")).build().state_dict()
    pretrain = PretrainModule(CONFIG, ObjectiveWeights(mlm=1.0, itm=1.0), init_from=str(uniter), init_format="uniter")
    vqa = VQAModule(CONFIG, answers=["yes", "no"], init_from=str(uniter), init_format="uniter")
    for module in (pretrain, vqa):
        for key, value in module.model.state_dict().items():
            torch.testing.assert_close(value, expected[f"model.{key}"], rtol=0, atol=0, msg=key)
    # The heads the checkpoint has, by name: masked tokens and image-text matching.
    for name in ("mlm", "itm"):
        for key, value in pretrain.heads[name].state_dict().items():
            assert torch.equal(value, expected[f"heads.{name}.{key}"]), (name, key)


def test_a_uniter_checkpoint_without_its_config_names_where_it_looked(uniter: Path):
    uniter.with_suffix(".json").unlink()
    with pytest.raises(FileNotFoundError, match=r"uniter-tiny\.pt: a UNITER checkpoint needs its model config JSON"):
        VQAModule(CONFIG, answers=["yes"], init_from=str(uniter), init_format="uniter")
    with pytest.raises(FileNotFoundError, match=r"init_from .*nowhere\.pt does not exist .*init_from=null"):
        VQAModule(CONFIG, answers=["yes"], init_from=str(uniter.parent / "nowhere.pt"), init_format="uniter")


def test_retrieval_starts_from_a_uniter_checkpoint_with_its_matching_head(uniter: Path):
    expected = read_uniter(uniter, uniter.with_suffix(".json")).build().state_dict()
    retrieval = RetrievalModule(CONFIG, init_from=str(uniter), init_format="uniter")
    for key, value in retrieval.model.state_dict().items():
        torch.testing.assert_close(value, expected[f"model.{key}"], rtol=0, atol=0, msg=key)
    for key, value in retrieval.heads["itm"].state_dict().items():
        assert torch.equal(value, expected[f"heads.itm.{key}"]), key
    # UNITER has no InfoNCE embeddings: the projections start fresh.
    assert not any(key.startswith("heads.text_projection") for key in expected)
