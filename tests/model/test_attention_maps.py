"""Attention probabilities recomputed from a layer's input equal those `transformers.BertModel` returns (eager
attention, `output_attentions=True`) for the same weights, and put padding where the padded layout has it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close
from transformers import BertModel

from tests.convert.test_hf_bert import TINY_BERT, padded_text
from tests.model.factories import randomize_, tiny
from vlp.convert.hf_bert import read_hf_bert
from vlp.model import RegionInputs, TextInputs, VLModel
from vlp.model.attention_maps import attention_probabilities


@pytest.mark.parametrize("layer", [0, 1, -1])
def test_probabilities_are_bert_attentions(tmp_path: Path, layer: int):
    config = copy.deepcopy(TINY_BERT)
    config._attn_implementation = "eager"  # the attention that can return its probabilities
    bert = randomize_(BertModel(config)).eval()
    bert.save_pretrained(tmp_path)
    model = read_hf_bert(tmp_path).build().model.eval()
    inputs = padded_text(TINY_BERT.vocab_size, [11, 6, 1], 11)
    with torch.no_grad():
        expected = bert(**inputs, output_attentions=True).attentions[layer]  # [B, heads, L, L]
    ours = attention_probabilities(
        model, TextInputs(inputs["input_ids"], inputs["token_type_ids"], inputs["attention_mask"]), None, layer
    )
    real = inputs["attention_mask"].bool()
    pairs = (real[:, :, None] & real[:, None, :]).unsqueeze(1).expand_as(expected)
    assert_close(ours[pairs], expected[pairs])
    # BERT gives padded keys a large negative score, so their probability is 0 there too; padded queries are left 0.
    assert_close(ours[~pairs], torch.zeros_like(ours[~pairs]))
    assert_close(ours.sum(-1)[real.unsqueeze(1).expand(-1, ours.shape[1], -1)], torch.ones(int(real.sum()) * 4))


def test_text_and_regions_padded_apart_give_each_example_its_own_attention():
    """A batch with padded texts and regions equals each example run alone (no padding at all)."""
    config = tiny(region_feature_dim=8)
    model = randomize_(VLModel(config), seed=3).eval()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, config.vocab_size, (2, 6), generator=generator)
    text_mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    features, geometry = torch.randn(2, 3, 8, generator=generator), torch.rand(2, 3, 6, generator=generator)
    region_mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    batch = attention_probabilities(
        model, TextInputs(ids, None, text_mask), RegionInputs(features, geometry, region_mask), layer=-1
    )
    for row in range(2):
        words, regions = int(text_mask[row].sum()), int(region_mask[row].sum())
        alone = attention_probabilities(
            model,
            TextInputs(ids[row : row + 1, :words]),
            RegionInputs(features[row : row + 1, :regions], geometry[row : row + 1, :regions]),
            layer=-1,
        )[0]
        positions = torch.cat([torch.arange(words), 6 + torch.arange(regions)])
        assert_close(batch[row][:, positions[:, None], positions[None, :]], alone)


def test_a_layer_out_of_range_is_refused():
    model = VLModel(tiny(region_feature_dim=8)).eval()
    with pytest.raises(ValueError, match="layer 5 is out of range"):
        attention_probabilities(model, TextInputs(torch.tensor([[2, 7, 3]])), None, layer=5)
