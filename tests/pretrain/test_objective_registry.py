"""Objectives extend in one place: `OBJECTIVES` gives `ObjectiveWeights` its fields, `build_heads` its heads and the
masked forward pass its losses, so a new objective needs its file and one line in the list."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest
import torch
from torch import nn

from tests.data.conftest import FEATURE_DIM, bert_vocab
from vlp.data import CocoCaptionsCorpus, Corruption, PretrainCollate, PretrainDataset, WordPieceTokenizer
from vlp.model import VLConfig, VLModel
from vlp.objectives.base import HeadSettings, MaskedPass, Objective
from vlp.objectives.output import ObjectiveOutput
from vlp.pretrain import ObjectiveWeights, compute, heads, objectives
from vlp.pretrain.compute import compute_objectives, masked_views
from vlp.pretrain.heads import build_heads
from vlp.pretrain.objectives import OBJECTIVES

CONFIG = VLConfig(
    vocab_size=30522, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=32, region_feature_dim=FEATURE_DIM
)


class PooledNorm(Objective):
    """A toy objective on the masked pass: the squared norm of a projection of the pooled output."""

    name: ClassVar[str] = "pooled_norm"
    description: ClassVar[str] = "a toy objective"
    masks_text: ClassVar[bool] = True

    def heads(self, config: VLConfig, settings: HeadSettings) -> dict[str, nn.Module]:
        return {"pooled_norm": nn.Linear(config.hidden_size, 3)}

    def masked_loss(self, model, heads, batch, output: MaskedPass) -> ObjectiveOutput:
        values = heads["pooled_norm"](output.pooled).pow(2).sum(dim=-1)
        return ObjectiveOutput(values.mean(), accuracy=None, count=values.shape[0])


def test_the_weights_are_the_list():
    fields = dataclasses.fields(ObjectiveWeights)
    assert (
        [f.name for f in fields]
        == [o.name for o in OBJECTIVES]
        == ["mlm", "contrastive", "itm", "mrfr", "mrc", "infonce"]
    )
    assert ObjectiveWeights().active == {"mlm": 1.0}
    assert all(f"{o.name}: {o.description}" in ObjectiveWeights.__doc__ for o in OBJECTIVES)
    with pytest.raises(TypeError):
        ObjectiveWeights(pooled_norm=1.0)  # not in the list, not a weight
    with pytest.raises(ValueError, match="must not be negative: itm"):
        ObjectiveWeights(itm=-1.0)


def test_masked_passes_follow_what_each_objective_masks():
    assert masked_views(["mlm", "contrastive", "itm", "mrc"], shared=True) == [
        (True, True, ["mlm", "contrastive", "mrc"])
    ]
    assert masked_views(["mlm", "contrastive", "mrfr"], shared=False) == [
        (True, False, ["mlm"]),
        (False, False, ["contrastive"]),
        (False, True, ["mrfr"]),
    ]
    assert masked_views(["itm", "infonce"], shared=True) == []


def test_a_listed_objective_gets_its_head_and_its_loss_with_nothing_else_changed(demo_data, monkeypatch):
    extended = {**objectives.BY_NAME, "pooled_norm": PooledNorm()}
    monkeypatch.setattr(compute, "BY_NAME", extended)
    monkeypatch.setattr(heads, "BY_NAME", extended)
    built = build_heads(CONFIG, {"mlm": 1.0, "pooled_norm": 1.0}, HeadSettings())
    assert list(built) == ["mlm", "pooled_norm"]

    dataset = PretrainDataset([CocoCaptionsCorpus(demo_data.world.captions["train"], demo_data.store)], max_regions=5)
    collate = PretrainCollate(dataset, WordPieceTokenizer(bert_vocab()), Corruption(), max_tokens=24, fixed=True)
    batch = collate([dataset[i] for i in range(4)])
    torch.manual_seed(0)
    model = VLModel(CONFIG).eval()
    losses = compute_objectives(model, built, batch, ["mlm", "pooled_norm"], shared=True)
    assert list(losses) == ["mlm", "pooled_norm"]
    pooled = model(batch.text, batch.regions).pooled_output  # the shared pass: masked text, intact regions
    expected = built["pooled_norm"](pooled).pow(2).sum(dim=-1).mean()
    torch.testing.assert_close(losses["pooled_norm"].loss, expected)
