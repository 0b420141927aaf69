"""Tag-word similarity: exact, lemma and plural matches, synonyms through word vectors."""

from __future__ import annotations

import pytest
import torch

from vlp.scene_graph.similarity import lemmas, tag_word_similarity


@pytest.mark.parametrize(
    ("word", "tag"),
    [
        ("dog", "dog"),
        ("Dog", "dog"),
        ("dogs", "dog"),
        ("dog", "dogs"),
        ("boxes", "box"),
        ("crosses", "cross"),
        ("buses", "bus"),
        ("shoes", "shoe"),
        ("houses", "house"),
        ("berries", "berry"),
        ("cookies", "cookie"),
        ("knives", "knife"),
        ("shelves", "shelf"),
        ("men", "man"),
        ("people", "person"),
        ("children", "child"),
        ("skis", "ski"),
        ("plus signs", "plus sign"),
        ("traffic lights", "traffic light"),
    ],
)
def test_exact_lemma_and_plural_matches_score_one(word: str, tag: str) -> None:
    assert tag_word_similarity(word, tag) == 1.0


@pytest.mark.parametrize(
    ("word", "tag"), [("disc", "circle"), ("glass", "glasses"), ("bus", "bu"), ("sign", "plus sign"), ("cat", "dog")]
)
def test_other_words_score_zero_without_embeddings(word: str, tag: str) -> None:
    assert tag_word_similarity(word, tag) == 0.0


def test_singular_s_words_keep_their_s() -> None:
    for word in ("glass", "bus", "tennis", "cactus"):
        assert lemmas(word) == {word}


def test_synonyms_score_the_cosine_of_their_vectors() -> None:
    vectors = {"disc": [1.0, 1.0, 0.0], "circle": [1.0, 0.0, 0.0], "square": [-1.0, 0.0, 0.0]}
    assert tag_word_similarity("disc", "circle", vectors) == pytest.approx(2**-0.5)
    assert tag_word_similarity("discs", "circle", vectors) == pytest.approx(2**-0.5)  # looked up by lemma
    assert tag_word_similarity("circle", "square", vectors) == 0.0  # negative cosine is clipped
    assert tag_word_similarity("disc", "star", vectors) == 0.0  # unknown word


def test_embeddings_may_be_a_function() -> None:
    table = {"rhombus": torch.tensor([0.0, 2.0]), "diamond": torch.tensor([0.0, 1.0])}
    assert tag_word_similarity("rhombus", "diamond", table.get) == pytest.approx(1.0)
