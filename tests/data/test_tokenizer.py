"""Word-piece tokenisation in Oscar's pair layout, and the offline vocabulary trainer."""

from __future__ import annotations

import pytest

from tests.data.conftest import bert_vocab
from vlp.data.tokenizer import WordPieceTokenizer, train_vocabulary


@pytest.fixture(scope="module")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer(bert_vocab())


def test_pair_layout_and_token_types(tokenizer):
    pair = tokenizer.encode_pair(["a", "red", "hexagon"], ["hexagon", "star"], max_tokens=35)
    pieces = [tokenizer._tokenizer.id_to_token(i) for i in pair.input_ids]
    assert pieces == ["[CLS]", "a", "red", "he", "##xa", "##gon", "[SEP]", "he", "##xa", "##gon", "star", "[SEP]"]
    assert pair.token_type_ids == [0] * 7 + [1] * 5
    assert pair.word_ids == [None, 0, 1, 2, 2, 2, None] + [None] * 5


def test_truncation_cuts_the_longer_part_first(tokenizer):
    words = ["red"] * 40
    pair = tokenizer.encode_pair(words, ["star", "circle"], max_tokens=12)
    assert len(pair.input_ids) == 12
    assert pair.token_type_ids.count(1) == 3  # both tags and their [SEP] survive
    alone = tokenizer.encode_pair(words, None, max_tokens=12)
    assert len(alone.input_ids) == 12 and alone.input_ids[-1] == tokenizer.sep_id and set(alone.token_type_ids) == {0}


def test_pickles_and_knows_its_special_ids(tokenizer):
    import pickle

    copy = pickle.loads(pickle.dumps(tokenizer))
    assert copy.encode_pair(["circle"], None, 8) == tokenizer.encode_pair(["circle"], None, 8)
    assert (tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id) == (0, 101, 102, 103)


def test_trained_vocabulary_is_small_and_covers_the_corpus(tmp_path):
    texts = ["a red circle left of a blue star", "is there a hexagon?", "two", "plus sign"] * 10
    path = train_vocabulary(texts, tmp_path / "vocab" / "vocab.txt", vocab_size=120)
    tokenizer = WordPieceTokenizer(path)
    assert tokenizer.vocab_size <= 120
    pair = tokenizer.encode_pair(["a", "red", "hexagon"], ["star"], 16)
    assert tokenizer.unk_id not in pair.input_ids


def test_trained_vocabulary_covers_the_vocab_corpora_too(demo_data, tmp_path):
    from vlp.data import CocoCaptionsCorpus, PretrainDataModule, VqaCorpus
    from vlp.data.tokenizer import vocab_file

    world = demo_data.world
    captions = [CocoCaptionsCorpus(world.captions["train"], demo_data.store)]
    questions = VqaCorpus(world.vqa_questions["train"], world.vqa_annotations["train"], demo_data.store)
    split = {}
    for name, extra in (("captions", ()), ("questions", [questions])):
        vocab = str(tmp_path / name / "vocab.txt")
        data = PretrainDataModule(captions, vocab=vocab, vocab_size=320, vocab_corpora=extra)
        data.prepare_data()
        pieces = vocab_file(vocab).read_text().split("\n")
        tokenizer = WordPieceTokenizer(data.vocab_path)
        encoded = tokenizer.encode_pair(["what", "color", "is", "the", "star", "?"], None, 16).input_ids
        split[name] = sum(piece.startswith("##") for piece in map(tokenizer._tokenizer.id_to_token, encoded))
        split[name] += encoded.count(tokenizer.unk_id)
        assert "star" in pieces
    # Captions never ask: their vocabulary spells "what" and "color" in pieces; with the questions, every word is one.
    assert split["captions"] > 0 and split["questions"] == 0
