"""Image-text matching: label convention, negative rate, uniform and similarity-weighted negatives, the loss."""

from __future__ import annotations

import math

import pytest
import torch

from tests.objectives.stats import assert_distribution, assert_rate
from vlp.objectives.itm import itm_loss, sample_itm_pairs


def test_labels_are_one_for_matched_pairs() -> None:
    image_index, labels = sample_itm_pairs(10_000, torch.Generator().manual_seed(0))
    matched = image_index == torch.arange(10_000)
    assert torch.equal(labels, matched.long())
    assert_rate(float((labels == 0).float().mean()), 0.5, 10_000, "negatives")


def test_uniform_negatives_are_uniform_over_the_other_images() -> None:
    batch, rounds = 20, 500
    generator = torch.Generator().manual_seed(1)
    offsets = torch.zeros(batch, dtype=torch.long)
    for _ in range(rounds):
        image_index, _ = sample_itm_pairs(batch, generator, negative_probability=1.0)
        offsets += torch.bincount((image_index - torch.arange(batch)) % batch, minlength=batch)
    # Uniform over the other images of every row: the offset to the own image is uniform over 1 .. B-1, never 0.
    expected = torch.full((batch,), 1 / (batch - 1))
    expected[0] = 0.0
    assert_distribution(offsets, expected, "offsets of the negative image")


def test_hard_negatives_follow_the_softmax_of_the_similarities_over_other_images() -> None:
    # Image j scores level(j) = j % 4 against every text, so text i draws image j with probability
    # exp(level(j)) / sum over k != i of exp(level(k)); rows of one level share that distribution over levels.
    batch, levels, rounds = 200, 4, 50
    level = torch.arange(batch) % levels
    similarity = level.float().expand(batch, batch).clone()
    similarity.fill_diagonal_(100.0)  # must be ignored: the own image is never a negative
    generator = torch.Generator().manual_seed(2)
    counts = torch.zeros(levels, levels, dtype=torch.long)
    for _ in range(rounds):
        image_index, labels = sample_itm_pairs(batch, generator, negative_probability=1.0, similarity=similarity)
        assert (labels == 0).all() and not (image_index == torch.arange(batch)).any()
        counts.index_put_((level, level[image_index]), torch.ones(batch, dtype=torch.long), accumulate=True)
    per_level = batch // levels
    for own in range(levels):
        weights = [(per_level - (j == own)) * math.exp(j) for j in range(levels)]
        expected = torch.tensor(weights) / sum(weights)
        assert_distribution(counts[own], expected, f"hard negatives of level-{own} texts")


def test_a_single_pair_stays_matched() -> None:
    image_index, labels = sample_itm_pairs(1, torch.Generator().manual_seed(3))
    assert image_index.tolist() == [0] and labels.tolist() == [1]


def test_similarity_must_be_square_in_the_batch() -> None:
    with pytest.raises(ValueError):
        sample_itm_pairs(3, similarity=torch.zeros(3, 4))


def test_itm_loss_matches_a_reference() -> None:
    logits = torch.randn(12, 2, generator=torch.Generator().manual_seed(4))
    _, labels = sample_itm_pairs(12, torch.Generator().manual_seed(5))
    out = itm_loss(logits, labels)
    rows = logits.tolist()
    expected = (
        sum(
            math.log(math.exp(row[0]) + math.exp(row[1])) - row[label]
            for row, label in zip(rows, labels.tolist(), strict=True)
        )
        / 12
    )
    correct = sum((row[1] > row[0]) == bool(label) for row, label in zip(rows, labels.tolist(), strict=True))
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    assert out.accuracy.item() == pytest.approx(correct / 12)
    assert out.count == 12
