"""Recall@K of both directions against a naive full-matrix computation, and the ranking's tie rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlp.metrics.retrieval import RetrievalRecall, average, rank_candidates


def naive_recall(scores: np.ndarray, caption_image: np.ndarray, k: int) -> tuple[float, float]:
    """R@k image-to-text and text-to-image in percent, by sorting every row of the full matrix in plain Python."""
    images, texts = scores.shape
    hits = 0
    for image in range(images):
        order = sorted(range(texts), key=lambda text: (-scores[image, text], text))
        hits += any(caption_image[text] == image for text in order[:k])
    by_text = 0
    for text in range(texts):
        order = sorted(range(images), key=lambda image: (-scores[image, text], image))
        by_text += caption_image[text] in order[:k]
    return 100 * hits / images, 100 * by_text / texts


def recall_of(scores: torch.Tensor, caption_image: torch.Tensor, queries_per_update: int = 7) -> dict[str, float]:
    recall = RetrievalRecall()
    by_image, by_text = rank_candidates(scores, 10), rank_candidates(scores.t(), 10)
    images = torch.arange(scores.shape[0])
    texts = torch.arange(scores.shape[1])
    # Several updates, as processes or batches would give them.
    for start in range(0, len(images), queries_per_update):
        part = images[start : start + queries_per_update]
        recall.update("image_to_text", caption_image[by_image[part]] == part[:, None], part)
    for start in range(0, len(texts), queries_per_update):
        part = texts[start : start + queries_per_update]
        recall.update("text_to_image", by_text[part] == caption_image[part][:, None], part)
    return recall.compute()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recall_equals_the_naive_full_matrix_computation(seed: int) -> None:
    generator = np.random.default_rng(seed)
    images, per_image = 30, 5
    caption_image = np.repeat(np.arange(images), per_image)
    # Scores that favour the true pairs a little, with ties from rounding.
    scores = generator.normal(size=(images, images * per_image))
    scores[caption_image, np.arange(images * per_image)] += 1.5
    scores = np.round(scores, 1)
    result = recall_of(torch.tensor(scores), torch.tensor(caption_image))
    for k in (1, 5, 10):
        image_to_text, text_to_image = naive_recall(scores, caption_image, k)
        assert result[f"image_to_text/R@{k}"] == pytest.approx(image_to_text)
        assert result[f"text_to_image/R@{k}"] == pytest.approx(text_to_image)
    assert 0 < result["image_to_text/R@1"] < 100
    assert result["rsum"] == pytest.approx(sum(v for name, v in result.items() if name != "rsum"))


def test_rank_candidates_breaks_ties_by_fallback_then_index() -> None:
    scores = torch.tensor([[1.0, 2.0, 2.0, float("-inf"), float("-inf"), 0.5]])
    fallback = torch.tensor([[0.0, 0.0, 0.0, 0.1, 0.9, 0.0]])
    assert rank_candidates(scores, 6).tolist() == [[1, 2, 0, 5, 3, 4]]
    # Equal scores keep the fallback's order; unscored candidates (-inf) follow in the fallback's order.
    assert rank_candidates(scores, 6, fallback).tolist() == [[1, 2, 0, 5, 4, 3]]
    assert rank_candidates(scores, 2).shape == (1, 2)


def test_short_lists_miss_beyond_their_end() -> None:
    recall = RetrievalRecall()
    recall.update("image_to_text", torch.tensor([[False, True], [False, False]]), torch.arange(2))
    recall.update("text_to_image", torch.tensor([[True, False]]), torch.arange(1))
    values = recall.compute()
    assert values["image_to_text/R@1"] == 0 and values["image_to_text/R@5"] == values["image_to_text/R@10"] == 50
    assert values["text_to_image/R@1"] == 100


def test_recall_rejects_unknown_directions() -> None:
    recall = RetrievalRecall()
    with pytest.raises(ValueError, match="direction"):
        recall.update("sideways", torch.zeros(2, 10, dtype=torch.bool), torch.arange(2))


def test_average_is_the_mean_of_the_folds() -> None:
    assert average([{"rsum": 1.0, "a": 2.0}, {"rsum": 3.0, "a": 4.0}]) == {"rsum": 2.0, "a": 3.0}
