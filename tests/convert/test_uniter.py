"""UNITER checkpoints: official key names, exact outputs against UNITER's composition of BERT modules, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from tests.convert.official import MLM_HEAD_KEYS, bert_keys, save_uniter, uniter_config_json
from tests.model.factories import make_batch, randomize_, tiny, typed
from vlp.convert.base import CheckpointMismatchError
from vlp.convert.reference import UniterReference, uniter_gather_layout
from vlp.convert.uniter import read_uniter, write_uniter

# Official names of a one-layer UniterForPretraining checkpoint, written out from UNITER's modules.
PRETRAINING_KEYS = (
    bert_keys("uniter.")
    | MLM_HEAD_KEYS
    | {
        *(
            f"uniter.img_embeddings.{module}.{parameter}"
            for module in ("img_linear", "img_layer_norm", "pos_layer_norm", "pos_linear", "LayerNorm")
            for parameter in ("weight", "bias")
        ),
        "uniter.img_embeddings.mask_embedding.weight",
        "feat_regress.weight",
        "feat_regress.bias",
        *(f"feat_regress.net.{index}.{parameter}" for index in (0, 2) for parameter in ("weight", "bias")),
        *(f"region_classifier.net.{index}.{parameter}" for index in (0, 2, 3) for parameter in ("weight", "bias")),
        "itm_output.weight",
        "itm_output.bias",
    }
)
ALL_HEADS = {
    "mlm": True,
    "itm": True,
    "rank": True,
    "region_regression": True,
    "num_region_labels": 11,
    "num_answers": 7,
}


def test_reference_has_the_official_key_names_and_shapes():
    config = tiny(num_layers=1, region_style="uniter")
    state = UniterReference(config, mlm=True, itm=True, region_regression=True, num_region_labels=11).state_dict()
    assert set(state) == PRETRAINING_KEYS
    assert state["uniter.img_embeddings.pos_linear.weight"].shape == (config.hidden_size, 7)
    assert state["uniter.img_embeddings.mask_embedding.weight"].shape == (2, config.region_feature_dim)
    assert state["feat_regress.weight"].shape == (config.hidden_size, config.region_feature_dim)


def test_converted_checkpoint_computes_what_uniter_computes(tmp_path: Path):
    config = tiny(region_style="uniter")
    reference = randomize_(UniterReference(config, **ALL_HEADS)).eval()
    converted = read_uniter(*save_uniter(tmp_path, reference, config))
    assert converted.report.missing == {} and converted.report.unexpected == ()
    assert converted.heads.keys() == {"mlm", "itm", "rank", "region_regression", "region_label", "vqa"}
    bundle = converted.build().eval()

    batch = make_batch(config, text_lengths=[9, 3, 6], region_lengths=[2, 6, 5])
    text = batch.input_ids.shape[1]
    masked = torch.rand(batch.region_mask.shape, generator=torch.Generator().manual_seed(3)) < 0.5
    gather_index, attn_masks = uniter_gather_layout(batch.text_lengths, batch.region_lengths, text)
    with torch.no_grad():
        sequence, pooled = reference(
            batch.input_ids,
            torch.arange(text).unsqueeze(0),
            batch.region_features,
            batch.region_geometry,
            attn_masks.long(),
            gather_index,
            img_masks=masked,
        )
        ours = bundle.model(**typed(batch.tensors() | {"token_type_ids": None}), masked_regions=masked)
    # UNITER's output j is the padded-layout position gather_index[:, j]; compare where UNITER has real tokens.
    states = ours.sequence_output.gather(1, gather_index.unsqueeze(-1).expand(-1, -1, config.hidden_size))
    assert_close(states[attn_masks], sequence[attn_masks])
    assert_close(ours.pooled_output, pooled)

    real_states, real_sequence = states[attn_masks], sequence[attn_masks]
    heads, model = bundle.heads, bundle.model
    assert_close(heads["mlm"](real_states, model.word_embedding_weight), reference.cls.predictions(real_sequence))
    assert_close(
        heads["region_regression"](real_states, model.region_feature_weight), reference.region_regression(real_sequence)
    )
    assert_close(heads["region_label"](real_states), reference.region_classifier.net(real_sequence))
    assert_close(heads["itm"](ours.pooled_output), reference.itm_output(pooled))
    assert_close(heads["rank"](ours.pooled_output), reference.rank_output(pooled))
    assert_close(heads["vqa"](ours.pooled_output), reference.vqa_output(pooled))


def test_masked_regions_change_only_through_the_mask_embedding(tmp_path: Path):
    config = tiny(region_style="uniter")
    bundle = read_uniter(*save_uniter(tmp_path, randomize_(UniterReference(config)), config)).build().eval()
    batch = make_batch(config, text_lengths=[5], region_lengths=[4])
    masked = torch.tensor([[False, True, False, False, False, False]])
    with torch.no_grad():
        plain = bundle.model(**batch.inputs()).sequence_output
        with_mask = bundle.model(**batch.inputs(), masked_regions=masked).sequence_output
        features = batch.region_features.clone()
        features[masked] += bundle.model.region_embeddings.mask_embedding[1]
        shifted = bundle.model(**typed(batch.tensors() | {"region_features": features})).sequence_output
    assert not torch.allclose(plain, with_mask)
    assert_close(with_mask, shifted)


def test_conversion_back_to_uniter_round_trips_exactly(tmp_path: Path):
    config = tiny(region_style="uniter")
    weights, config_path = save_uniter(tmp_path, randomize_(UniterReference(config, **ALL_HEADS)), config)
    original = torch.load(weights, weights_only=True)
    write_uniter(read_uniter(weights, config_path).build(), tmp_path / "again")

    written = torch.load(tmp_path / "again" / "model.pt", weights_only=True)
    assert set(written) == set(original)
    for key, value in original.items():
        assert torch.equal(written[key], value), key
    assert json.loads((tmp_path / "again" / "config.json").read_text()) == uniter_config_json(config)
    assert read_uniter(tmp_path / "again").report.unexpected == ()


def test_legacy_layer_norm_names_and_unknown_task_heads(tmp_path: Path):
    config = tiny(region_style="uniter")
    state = UniterReference(config).state_dict()
    state = {
        key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): value
        for key, value in state.items()
    }
    state["nlvr2_output.weight"] = torch.zeros(2, config.hidden_size)
    torch.save(state, tmp_path / "model.pt")
    (tmp_path / "config.json").write_text(json.dumps(uniter_config_json(config)))

    converted = read_uniter(tmp_path)
    assert converted.report.missing == {}
    assert converted.report.unexpected == ("nlvr2_output.weight",)
    with pytest.raises(CheckpointMismatchError, match=r"nlvr2_output\.weight"):
        converted.build()
    converted.build(allow_unexpected=["nlvr2_output"])


def test_a_pt_file_needs_its_config(tmp_path: Path):
    config = tiny(region_style="uniter")
    weights, _ = save_uniter(tmp_path, UniterReference(config), config)
    with pytest.raises(ValueError, match="config"):
        read_uniter(weights)
