"""`vlp convert` end to end, through the `vlp` command's dispatcher, on checkpoint folders built here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForPreTraining

from tests.convert.official import oscar_config_json, save_oscar, save_uniter
from tests.model.factories import randomize_, tiny
from vlp.cli.main import main
from vlp.convert.reference import OscarReference, UniterReference


def largest_difference(output: str) -> float:
    numbers = re.search(r"sequence_output (\S+), pooled_output (\S+)", output)
    assert numbers, output
    return max(float(numbers.group(1)), float(numbers.group(2)))


def test_oscar_to_vlp_and_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = tiny()
    reference = randomize_(OscarReference(config, mlm=True, num_contrast_classes=3))
    original = save_oscar(tmp_path / "oscar", reference, oscar_config_json(config, num_contrast_classes=3))
    (tmp_path / "oscar" / "vocab.txt").write_text("[PAD]\n[UNK]\n")

    assert (
        main(["convert", "--from", "oscar", "--to", "vlp", str(tmp_path / "oscar"), str(tmp_path / "vlp"), "--verify"])
        == 0
    )
    output = capsys.readouterr().out
    assert "heads: mlm (TiedPredictionHead), contrastive (ClassificationHead)" in output
    assert largest_difference(output) < 1e-5
    assert (tmp_path / "vlp" / "vocab.txt").read_text() == "[PAD]\n[UNK]\n"

    assert main(["convert", "--from", "vlp", "--to", "oscar", str(tmp_path / "vlp"), str(tmp_path / "back")]) == 0
    written = torch.load(tmp_path / "back" / "pytorch_model.bin", weights_only=True)
    assert written.keys() == original.keys()
    assert all(torch.equal(written[key], value) for key, value in original.items())
    assert (tmp_path / "back" / "vocab.txt").is_file()


def test_uniter_to_vlp_to_uniter(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = tiny(region_style="uniter")
    weights, config_path = save_uniter(tmp_path, randomize_(UniterReference(config, mlm=True, itm=True)), config)
    assert (
        main(
            [
                "convert",
                "--from",
                "uniter",
                "--to",
                "vlp",
                str(weights),
                str(tmp_path / "vlp"),
                "--config",
                str(config_path),
                "--verify",
            ]
        )
        == 0
    )
    assert largest_difference(capsys.readouterr().out) < 1e-5
    assert main(["convert", "--from", "vlp", "--to", "uniter", str(tmp_path / "vlp"), str(tmp_path / "back")]) == 0
    assert (
        main(
            ["convert", "--from", "uniter", "--to", "vlp", str(tmp_path / "back"), str(tmp_path / "again"), "--verify"]
        )
        == 0
    )
    assert largest_difference(capsys.readouterr().out) < 1e-5


def test_hf_bert_to_vlp_initialises_the_regions(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    bert = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24)
    randomize_(BertForPreTraining(bert)).save_pretrained(tmp_path / "bert")
    command = ["convert", "--from", "hf-bert", "--to", "vlp", str(tmp_path / "bert"), str(tmp_path / "vlp")]
    assert main([*command, "--region-style", "uniter", "--region-feature-dim", "10", "--verify"]) == 0
    output = capsys.readouterr().out
    assert "initialised fresh: model.region_embeddings.*" in output
    assert largest_difference(output) < 1e-5
    assert main(["convert", "--from", "vlp", "--to", "oscar", str(tmp_path / "vlp"), str(tmp_path / "oscar")]) == 1
    assert "only oscar-style region embeddings fit Oscar's layout" in capsys.readouterr().err


def test_mismatches_fail_unless_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = tiny()
    state = save_oscar(tmp_path / "oscar", OscarReference(config), oscar_config_json(config))
    state["cls.seq_relationship_extra.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "oscar" / "pytorch_model.bin")
    command = ["convert", "--from", "oscar", "--to", "vlp", str(tmp_path / "oscar"), str(tmp_path / "vlp")]
    assert main(command) == 1
    captured = capsys.readouterr()
    assert "unexpected: cls.seq_relationship_extra.weight" in captured.out + captured.err
    assert not (tmp_path / "vlp").exists()
    assert main([*command, "--allow-unexpected", "cls.seq_relationship_extra"]) == 0
