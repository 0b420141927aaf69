"""Oscar/VinVL checkpoints: official key names, outputs equal to Oscar's composition of BERT modules, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from tests.convert.official import MLM_HEAD_KEYS, bert_keys, oscar_config_json, save_oscar
from tests.model.factories import Batch, make_batch, randomize_, tiny
from vlp.convert import oscar
from vlp.convert.base import CheckpointMismatchError
from vlp.convert.oscar import read_oscar, write_oscar
from vlp.convert.reference import OscarReference
from vlp.model import ClassificationHead

# The official names of a one-layer Oscar pretraining checkpoint (BertImgForPreTraining with use_img_layernorm) and a
# VQA finetuning one (ImageBertForSequenceClassification, mlp classifier), written out from Oscar's modules.
BACKBONE_KEYS = bert_keys("bert.") | {
    "bert.img_embedding.weight",
    "bert.img_embedding.bias",
    "bert.LayerNorm.weight",
    "bert.LayerNorm.bias",
}
PRETRAINING_HEAD_KEYS = MLM_HEAD_KEYS | {"cls.seq_relationship.weight", "cls.seq_relationship.bias"}
VQA_HEAD_KEYS = {"classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias"}

# Oscar's variants: (config changes, reference heads).
VARIANTS = {
    "pretrain-vinvl": ({}, {"mlm": True, "num_contrast_classes": 3}),
    "pretrain-oscar-no-img-layernorm": ({"use_region_layernorm": False}, {"mlm": True, "num_contrast_classes": 2}),
    "vqa-linear": ({}, {"classifier": "linear", "num_labels": 5}),
    "vqa-mlp": ({}, {"classifier": "mlp", "num_labels": 5, "cls_hidden_scale": 3}),
    "multiple-choice-mlp-layernorm": ({}, {"classifier": "mlp", "num_labels": 2, "classifier_layer_norm": True}),
}


def reference_outputs(reference: OscarReference, batch: Batch, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    features = torch.cat([batch.region_features, batch.region_geometry], dim=-1)
    return reference(batch.input_ids, batch.token_type_ids, mask.long(), features)


def test_reference_has_the_official_key_names_and_shapes():
    config = tiny(num_layers=1)
    pretraining = OscarReference(config, mlm=True, num_contrast_classes=3).state_dict()
    vqa = OscarReference(config, classifier="mlp", num_labels=7).state_dict()
    assert set(pretraining) == BACKBONE_KEYS | PRETRAINING_HEAD_KEYS
    assert set(vqa) == BACKBONE_KEYS | VQA_HEAD_KEYS
    assert pretraining["bert.img_embedding.weight"].shape == (config.hidden_size, config.region_feature_dim + 6)
    assert pretraining["cls.seq_relationship.weight"].shape == (3, config.hidden_size)
    assert vqa["classifier.0.weight"].shape == (2 * config.hidden_size, config.hidden_size)
    assert vqa["classifier.2.weight"].shape == (7, 2 * config.hidden_size)


@pytest.mark.parametrize("variant", VARIANTS)
def test_converted_checkpoint_computes_what_oscar_computes(tmp_path: Path, variant: str):
    changes, heads = VARIANTS[variant]
    config = tiny(**changes)
    reference = randomize_(OscarReference(config, **heads)).eval()
    save_oscar(tmp_path, reference, oscar_config_json(config))

    converted = read_oscar(tmp_path)
    assert converted.report.missing == {} and converted.report.unexpected == ()
    bundle = converted.build().eval()
    batch = make_batch(config, text_lengths=[9, 5, 7], region_lengths=[4, 6, 1])
    with torch.no_grad():
        sequence, pooled = reference_outputs(reference, batch, batch.mask)
        ours = bundle.model(**batch.inputs())
    real = batch.mask
    assert_close(ours.sequence_output[real], sequence[real])
    assert_close(ours.pooled_output, pooled)
    assert (ours.sequence_output[~real] == 0).all()

    if heads.get("mlm"):
        text = ours.sequence_output[:, : batch.input_ids.shape[1]][batch.text_mask]
        expected = reference.mlm_logits(sequence[:, : batch.input_ids.shape[1]][batch.text_mask])
        assert_close(bundle.heads["mlm"](text, bundle.model.word_embedding_weight), expected)
    if heads.get("num_contrast_classes"):
        assert_close(bundle.heads["contrastive"](ours.pooled_output), reference.contrastive_logits(pooled))
    if heads.get("classifier"):
        assert_close(bundle.heads["classifier"](ours.pooled_output), reference.classifier_logits(pooled))


def test_gradients_match_oscar_for_every_parameter(tmp_path: Path):
    config = tiny()
    reference = randomize_(OscarReference(config, mlm=True, num_contrast_classes=2)).train()
    save_oscar(tmp_path, reference, oscar_config_json(config))
    converted = read_oscar(tmp_path)
    bundle = converted.build().train()
    batch = make_batch(config, text_lengths=[9, 4], region_lengths=[2, 6])
    real = batch.mask
    weights = torch.randn(*real.shape, config.hidden_size)

    sequence, pooled = reference_outputs(reference, batch, real)
    text = sequence[:, :9][batch.text_mask]
    loss = (sequence * weights)[real].sum() + reference.contrastive_logits(pooled).sum()
    (loss + reference.mlm_logits(text).logsumexp(-1).sum()).backward()

    ours = bundle.model(**batch.inputs())
    text = ours.sequence_output[:, :9][batch.text_mask]
    loss = (ours.sequence_output * weights)[real].sum() + bundle.heads["contrastive"](ours.pooled_output).sum()
    (loss + bundle.heads["mlm"](text, bundle.model.word_embedding_weight).logsumexp(-1).sum()).backward()

    theirs = dict(reference.named_parameters())
    official = oscar.key_map(bundle.config, converted.heads)
    for name, parameter in bundle.named_parameters():
        assert_close(parameter.grad, theirs[official[name]].grad, msg=lambda message, name=name: f"{name}: {message}")


def test_3d_mask_matches_oscar(tmp_path: Path):
    config = tiny()
    reference = randomize_(OscarReference(config)).eval()
    save_oscar(tmp_path, reference, oscar_config_json(config))
    bundle = read_oscar(tmp_path).build().eval()
    batch = make_batch(config, text_lengths=[9, 6], region_lengths=[5, 3])
    length = batch.mask.shape[1]
    generator = torch.Generator().manual_seed(1)
    # A random per-example mask over real keys, every token seeing at least itself, as captioning's masks do.
    mask_3d = (torch.rand(2, length, length, generator=generator) < 0.5) | torch.eye(length, dtype=torch.bool)
    mask_3d &= batch.mask[:, None, :]
    with torch.no_grad():
        sequence, pooled = reference_outputs(reference, batch, mask_3d)
        ours = bundle.model(**batch.inputs(), attention_mask_3d=mask_3d)
    assert_close(ours.sequence_output[batch.mask], sequence[batch.mask])
    assert_close(ours.pooled_output, pooled)


def test_conversion_back_to_oscar_round_trips_exactly(tmp_path: Path):
    config = tiny()
    reference = randomize_(OscarReference(config, mlm=True, num_contrast_classes=3, classifier="mlp", num_labels=4))
    original = save_oscar(tmp_path / "official", reference, oscar_config_json(config))
    write_oscar(read_oscar(tmp_path / "official").build(), tmp_path / "again")

    written = torch.load(tmp_path / "again" / "pytorch_model.bin", weights_only=True)
    assert set(written) == set(original)
    for key, value in original.items():
        assert torch.equal(written[key], value), key
    config_json = json.loads((tmp_path / "again" / "config.json").read_text())
    assert config_json["img_feature_dim"] == config.region_feature_dim + 6
    assert config_json["num_contrast_classes"] == 3
    assert (config_json["classifier"], config_json["num_labels"], config_json["cls_hidden_scale"]) == ("mlp", 4, 2)
    assert read_oscar(tmp_path / "again").heads.keys() == {"mlm", "contrastive", "classifier"}


def test_missing_and_unexpected_keys_are_reported_by_name(tmp_path: Path):
    config = tiny()
    reference = OscarReference(config, num_contrast_classes=2)
    state = reference.state_dict()
    del state["bert.pooler.dense.weight"]
    state["bert.img_projection.weight"] = torch.zeros(3)
    tmp_path.mkdir(exist_ok=True)
    torch.save(state, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps(oscar_config_json(config)))

    converted = read_oscar(tmp_path)
    assert converted.report.missing == {"model.pooler.weight": "bert.pooler.dense.weight"}
    assert converted.report.unexpected == ("bert.img_projection.weight",)
    with pytest.raises(CheckpointMismatchError) as error:
        converted.build()
    assert "bert.pooler.dense.weight" in str(error.value) and "bert.img_projection.weight" in str(error.value)
    converted.build(allow_missing=["model.pooler"], allow_unexpected=["bert.img_projection"])


def test_finetuning_config_over_a_pretrained_checkpoint_reports_the_new_classifier(tmp_path: Path):
    config = tiny()
    save_oscar(tmp_path, OscarReference(config, mlm=True), oscar_config_json(config, classifier="mlp", num_labels=6))
    converted = read_oscar(tmp_path)
    assert set(converted.report.missing) == {
        "heads.classifier.dense.weight",
        "heads.classifier.dense.bias",
        "heads.classifier.out.weight",
        "heads.classifier.out.bias",
    }
    with pytest.raises(CheckpointMismatchError, match=r"classifier\.0\.weight"):
        converted.build()
    bundle = converted.build(allow_missing=["heads.classifier"])
    assert bundle.heads["classifier"].out.out_features == 6


def test_untied_decoder_is_refused(tmp_path: Path):
    config = tiny()
    state = save_oscar(tmp_path, OscarReference(config, mlm=True), oscar_config_json(config))
    state["cls.predictions.decoder.weight"] = state["cls.predictions.decoder.weight"] + 1
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointMismatchError, match="tied"):
        read_oscar(tmp_path)


def test_uniter_style_models_and_foreign_heads_do_not_fit_oscar(tmp_path: Path):
    config = tiny()
    save_oscar(tmp_path / "official", OscarReference(config), oscar_config_json(config))
    bundle = read_oscar(tmp_path / "official").build()
    bundle.heads["itm"] = ClassificationHead(config.hidden_size, 2)
    with pytest.raises(CheckpointMismatchError, match="'itm'"):
        write_oscar(bundle, tmp_path / "out")
