"""The vlp folder: config.json and model.safetensors that rebuild a model and its heads exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch.testing import assert_close

from tests.model.factories import make_batch, randomize_, tiny
from vlp.convert.base import CheckpointMismatchError, VLBundle
from vlp.convert.folder import load_pretrained, read_folder, write_folder
from vlp.model import ClassificationHead, EmbeddingProjection, MLPClassificationHead, TiedPredictionHead, VLModel


def task_modules() -> VLBundle:
    """What a task module holds: a uniter-style model and heads of several kinds, wrapped for export."""
    config = tiny(region_style="uniter")
    heads = {
        "mlm": TiedPredictionHead(config.hidden_size, config.vocab_size),
        "itm": ClassificationHead(config.hidden_size, 2),
        "vqa": MLPClassificationHead(config.hidden_size, 9, 2 * config.hidden_size, "gelu", True),
        "contrastive_text": EmbeddingProjection(config.hidden_size, 8),
    }
    return randomize_(VLBundle(VLModel(config), heads)).eval()


def test_write_then_load_gives_the_same_model_and_heads(tmp_path: Path):
    bundle = task_modules()
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "vocab.txt").write_text("[PAD]\n[CLS]\n")
    write_folder(bundle, tmp_path / "out", tokenizer_from=tmp_path / "bert")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "config.json",
        "model.safetensors",
        "vocab.txt",
    ]
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["heads"]["vqa"] == {
        "class_path": "vlp.model.heads.MLPClassificationHead",
        "init_args": bundle.head_specs["vqa"].init_args,
    }

    loaded = load_pretrained(tmp_path / "out")
    assert not any(module.training for module in loaded.modules())  # eval mode, as transformers' from_pretrained
    assert loaded.config == bundle.config and loaded.head_specs == bundle.head_specs
    assert loaded.state_dict().keys() == bundle.state_dict().keys()
    for key, value in bundle.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    batch = make_batch(bundle.config, text_lengths=[6, 3], region_lengths=[2, 5])
    with torch.no_grad():
        assert_close(loaded.model(**batch.inputs()).sequence_output, bundle.model(**batch.inputs()).sequence_output)


def test_missing_and_extra_tensors_are_reported(tmp_path: Path):
    write_folder(task_modules(), tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    del state["heads.itm.linear.bias"]
    state["heads.itm.temperature"] = torch.ones(1)
    save_file(state, tmp_path / "model.safetensors")

    converted = read_folder(tmp_path)
    assert converted.report.missing == {"heads.itm.linear.bias": "heads.itm.linear.bias"}
    assert converted.report.unexpected == ("heads.itm.temperature",)
    with pytest.raises(CheckpointMismatchError, match=r"heads\.itm\.linear\.bias"):
        converted.build()
    converted.build(allow_missing=["heads.itm"], allow_unexpected=["heads.itm.temperature"])


def test_other_folders_are_refused(tmp_path: Path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="not a vlp folder"):
        read_folder(tmp_path)
