"""Mimetic attention initialisation: the structure it promises, and the learning speed it is there for."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.model.factories import tiny
from vlp.model import TextInputs, VLConfig, VLModel
from vlp.model.init import MIMETIC_QUERY_KEY, MIMETIC_VALUE_OUTPUT


def products(model: VLModel) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per layer, the [H, H] matrices W_Q^T W_K (scores are x W_Q^T W_K x'^T) and W_V^T W_O^T (output is x W_V^T W_O^T
    for a token attending only to x)."""
    pairs = []
    for layer in model.encoder.layers:
        attention = layer.attention
        pairs.append(
            (
                attention.query.weight.t() @ attention.key.weight,
                attention.value.weight.t() @ attention.out.weight.t(),
            )
        )
    return pairs


def test_mimetic_layers_have_the_identity_plus_noise_structure():
    torch.manual_seed(0)
    hidden = 256
    model = VLModel(tiny(hidden_size=hidden, num_heads=4, num_layers=2, attention_init="mimetic"))
    eye = torch.eye(hidden)
    for query_key, value_output in products(model):
        for product, (noise, identity) in ((query_key, MIMETIC_QUERY_KEY), (value_output, MIMETIC_VALUE_OUTPUT)):
            assert product.diagonal().mean().item() == pytest.approx(identity, abs=0.02)
            # The rest is N(0, noise^2 / H) noise: its entries' spread, scaled back by sqrt(H), is `noise`.
            assert ((product - identity * eye).std() * hidden**0.5).item() == pytest.approx(abs(noise), rel=0.05)


def test_bert_layers_have_no_such_structure_and_other_weights_are_untouched():
    torch.manual_seed(0)
    bert = VLModel(tiny(hidden_size=128, attention_init="bert"))
    torch.manual_seed(0)
    mimetic = VLModel(tiny(hidden_size=128, attention_init="mimetic"))
    for query_key, _ in products(bert):
        assert abs(query_key.diagonal().mean().item()) < 0.01
    projections = ("query.weight", "key.weight", "value.weight", "out.weight")
    bert_state, mimetic_state = bert.state_dict(), mimetic.state_dict()
    for name, tensor in bert_state.items():
        if not name.endswith(projections):
            torch.testing.assert_close(mimetic_state[name], tensor, msg=name)


def test_unknown_attention_init_is_refused():
    with pytest.raises(ValueError, match="attention_init 'xavier'"):
        VLConfig(attention_init="xavier")


def membership_accuracy(attention_init: str, steps: int) -> float:
    """Trains a tiny model on "is word q among the 5 tags?" ([CLS] q [SEP] tags [SEP], answer from the pooled output),
    the core of Oscar's polluted-tag contrastive, and returns the accuracy over the last 50 steps."""
    torch.manual_seed(0)
    vocab, tags = 64, 5
    config = VLConfig(
        vocab_size=vocab,
        hidden_size=128,
        num_layers=3,
        num_heads=4,
        intermediate_size=256,
        max_position_embeddings=16,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        region_feature_dim=4,
        attention_init=attention_init,
    )
    model, head = VLModel(config), nn.Linear(128, 2)
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=3e-4, weight_decay=0.01)
    batch = 64
    types = torch.tensor([0, 0, 0] + [1] * (tags + 1)).expand(batch, -1)
    correct = []
    for _ in range(steps):
        drawn = torch.randint(10, vocab, (batch, tags))
        present = drawn[torch.arange(batch), torch.randint(0, tags, (batch,))]
        query = torch.where(torch.rand(batch) < 0.5, present, torch.randint(10, vocab, (batch,)))
        labels = (drawn == query[:, None]).any(dim=1).long()
        ids = torch.cat(
            [torch.full((batch, 1), 2), query[:, None], torch.full((batch, 1), 3), drawn, torch.full((batch, 1), 3)], 1
        )
        logits = head(model(TextInputs(ids, types)).pooled_output)
        loss = nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        correct.append((logits.argmax(dim=1) == labels).float().mean().item())
    return sum(correct[-50:]) / 50


@pytest.mark.slow
def test_mimetic_init_learns_tag_membership_where_bert_init_sits_at_chance():
    # Measured: mimetic passes 0.99 by step 200; BERT's init stays at 0.50-0.56 for 2,000 steps at this lr.
    assert membership_accuracy("mimetic", 300) > 0.9
    assert membership_accuracy("bert", 300) < 0.65
