"""Heads: the tie to the model's weights, their outputs, and the constructor-argument convention folders rely on."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from tests.model.factories import randomize_, tiny
from vlp.convert.base import head_spec
from vlp.generate.caption import next_token_log_probs
from vlp.model import (
    ClassificationHead,
    EmbeddingProjection,
    MLPClassificationHead,
    TiedPredictionHead,
    VLModel,
    in_float32,
)

HEADS = [
    TiedPredictionHead(32, 97, hidden_act="gelu_new", layer_norm_eps=1e-6),
    ClassificationHead(32, 3, dropout=0.1),
    MLPClassificationHead(64, 5, 48, hidden_act="gelu", use_layer_norm=True, layer_norm_eps=1e-5, dropout=0.2),
    EmbeddingProjection(32, 16),
]


@pytest.mark.parametrize("head", HEADS, ids=lambda head: type(head).__name__)
def test_every_head_can_be_rebuilt_from_its_recorded_arguments(head: nn.Module):
    spec = head_spec(head)
    rebuilt = spec.build()
    assert head_spec(rebuilt) == spec
    assert {key: value.shape for key, value in rebuilt.state_dict().items()} == {
        key: value.shape for key, value in head.state_dict().items()
    }


def test_tied_heads_use_and_train_the_model_weights():
    model = randomize_(VLModel(tiny()))
    states = torch.randn(4, 32)
    mlm = TiedPredictionHead(32, model.config.vocab_size)
    logits = mlm(states, model.word_embedding_weight)
    transformed = mlm.norm(torch.nn.functional.gelu(mlm.transform(states)))
    assert_close(logits, transformed @ model.text_embeddings.word.weight.T + mlm.bias)
    logits.sum().backward()
    assert model.text_embeddings.word.weight.grad is not None

    regression = TiedPredictionHead(32, model.config.region_feature_dim)
    features = regression(states, model.region_feature_weight)
    assert features.shape == (4, model.config.region_feature_dim)
    features.sum().backward()
    projection_grad = model.region_embeddings.proj.weight.grad
    assert projection_grad[:, : model.config.region_feature_dim].abs().sum() > 0
    assert (projection_grad[:, model.config.region_feature_dim :] == 0).all()  # the geometry columns are not tied


def test_mlp_head_layouts_and_projection_norm():
    oscar_mlp = MLPClassificationHead(32, 7, 64)
    assert oscar_mlp.norm is None and isinstance(oscar_mlp.dense, nn.Linear) and oscar_mlp.out.in_features == 64
    embeddings = EmbeddingProjection(32, 8)(torch.randn(5, 32))
    assert_close(embeddings.norm(dim=-1), torch.ones(5))


def bf16_autocast() -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16)


@pytest.mark.parametrize("head", HEADS[1:], ids=lambda head: type(head).__name__)
def test_heads_score_in_float32_inside_bf16_autocast(head: nn.Module):
    head = randomize_(head).eval()
    states = torch.randn(16, head.hidden_size, generator=torch.Generator().manual_seed(0))
    reference = head(states)
    with bf16_autocast():
        autocast_only, scores = head(states), in_float32(head, states)
    assert autocast_only.dtype == torch.bfloat16 and scores.dtype == torch.float32
    assert (autocast_only.float() - reference).abs().max() > 1e-3  # what the evaluation would otherwise rank
    assert_close(scores, reference, rtol=1e-6, atol=1e-6)


def test_tied_head_scores_in_float32_and_still_trains_its_weights():
    model = randomize_(VLModel(tiny()))
    head = randomize_(TiedPredictionHead(32, 97))
    states = torch.randn(6, 32, generator=torch.Generator().manual_seed(1))
    reference = head(states, model.word_embedding_weight)
    with bf16_autocast():
        scores = in_float32(head, states.bfloat16(), model.word_embedding_weight)
    assert scores.dtype == torch.float32
    assert_close(scores, head(states.bfloat16().float(), model.word_embedding_weight))
    assert (scores - reference).abs().max() < (reference.abs().max() * 2**-7)  # only the input's bf16 rounding
    scores.sum().backward()
    assert model.word_embedding_weight.grad is not None and head.transform.weight.grad is not None


def test_heads_in_bf16_run_as_they_are():
    head = randomize_(ClassificationHead(32, 3)).to(torch.bfloat16)
    with bf16_autocast():
        scores = in_float32(head, torch.randn(4, 32).bfloat16())
    assert scores.dtype == torch.bfloat16
    assert in_float32(head, torch.randn(4, 32).bfloat16()).dtype == torch.bfloat16


@torch.no_grad()
def test_next_token_log_probabilities_do_not_depend_on_autocast():
    model = randomize_(VLModel(tiny())).eval()
    head = randomize_(TiedPredictionHead(32, 97), seed=1).eval()
    states = torch.randn(5, 32, generator=torch.Generator().manual_seed(2))
    with bf16_autocast():
        under_autocast = next_token_log_probs(model, head, states)
    assert_close(under_autocast, next_token_log_probs(model, head, states), rtol=1e-6, atol=1e-6)
