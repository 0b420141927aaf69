"""Vocabulary coverage of a task's texts, `vlp vocab build` / `report` / `--extend`, and a pretrained model loaded
over an extended vocabulary."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest
import torch

from tests.data.conftest import bert_vocab
from tests.model.factories import randomize_, tiny
from vlp.cli.main import main
from vlp.convert.base import VLBundle, mlm_head_spec
from vlp.convert.folder import write_folder
from vlp.data.coverage import MAX_PIECES, report_coverage, vocabulary_coverage
from vlp.data.tokenizer import WordPieceTokenizer
from vlp.pretrain import ObjectiveWeights, PretrainModule

TEXTS = ["What colour is the zzqx thing?", "a black cat 猫", "the zzqx and the qxzz"]


def test_counts_against_the_pieces_counted_here():
    tokenizer = WordPieceTokenizer(bert_vocab())
    coverage = vocabulary_coverage(tokenizer, TEXTS)
    words = [word for text in TEXTS for word in text.lower().replace("?", " ?").split()]
    pieces = {word: tokenizer.pieces([word])[0] for word in set(words)}
    assert coverage.texts == 3 and coverage.words == len(words)
    assert coverage.pieces == sum(len(pieces[word]) for word in words)
    assert coverage.unknown_pieces == sum(pieces[word].count(tokenizer.unk_id) for word in words) == 1
    assert coverage.split_words == sum(len(pieces[word]) > MAX_PIECES for word in words)
    assert coverage.unknown_examples == ("猫",) and "zzqx" in coverage.split_examples


def test_poor_coverage_warns_with_the_command(caplog):
    tokenizer = WordPieceTokenizer(bert_vocab())
    with caplog.at_level(logging.INFO, logger="vlp.data.coverage"):
        report_coverage(tokenizer, TEXTS, "questions")
        report_coverage(tokenizer, ["a black cat"], "captions")
    warning, info = caplog.records
    assert warning.levelno == logging.WARNING and "vlp vocab build" in warning.getMessage()
    assert "over the questions" in warning.getMessage() and "[UNK]: 猫" in warning.getMessage()
    assert info.levelno == logging.INFO and "0.00% of 3 pieces are [UNK]" in info.getMessage()


def test_build_then_report_covers_the_corpus(tmp_path: Path, capsys):
    corpus = tmp_path / "questions.json"
    corpus.write_text(json.dumps({"questions": [{"question": text} for text in TEXTS * 3]}))
    assert main(["vocab", "build", "--texts", str(corpus), "--size", "200", "--output", str(tmp_path / "v.txt")]) == 0
    assert "0.00% of" in capsys.readouterr().out.splitlines()[-1]
    assert main(["vocab", "report", "--vocab", str(tmp_path / "v.txt"), "--texts", str(corpus)]) == 0
    assert "0.00% of 48 pieces are [UNK], 0.00% of 48 words" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text('{"images": []}')
    assert main(["vocab", "report", "--vocab", str(tmp_path / "v.txt"), "--texts", str(tmp_path / "bad.json")]) == 2
    assert "bad.json: neither COCO captions, VQA questions nor a list of strings" in capsys.readouterr().err


def test_an_extended_vocabulary_keeps_the_base_ids_and_a_pretrained_model_loads_over_it(tmp_path: Path, capsys):
    base = tmp_path / "base" / "vocab.txt"
    base.parent.mkdir()
    base.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz"]) + "\n")
    corpus = tmp_path / "texts.txt"
    corpus.write_text("\n".join(["zebra crossing", "a black zebra"] * 5))
    argv = ["vocab", "build", "--texts", str(corpus), "--extend", str(base), "--output", str(tmp_path / "v.txt")]
    assert main(argv) == 0
    pieces = (tmp_path / "v.txt").read_text().splitlines()
    assert pieces[:31] == base.read_text().splitlines() and "zebra" in pieces[31:]
    assert f"vocab_size to {len(pieces)}" in capsys.readouterr().out

    small = tiny(vocab_size=31)
    bundle = randomize_(VLBundle.create(small, {"mlm": mlm_head_spec(small)}))
    write_folder(bundle, tmp_path / "pretrained")
    grown = dataclasses.replace(small, vocab_size=len(pieces))
    module = PretrainModule(grown, ObjectiveWeights(mlm=1.0), init_from=str(tmp_path / "pretrained"), init_format="vlp")
    words = module.model.text_embeddings.word.weight
    assert words.shape[0] == len(pieces)
    assert torch.equal(words[:31], bundle.model.text_embeddings.word.weight)
    assert torch.equal(module.heads["mlm"].bias[:31], bundle.heads["mlm"].bias)
    with pytest.raises(ValueError, match=r"vocab_size 31 \(config: 20\)"):
        PretrainModule(
            dataclasses.replace(small, vocab_size=20), init_from=str(tmp_path / "pretrained"), init_format="vlp"
        )
