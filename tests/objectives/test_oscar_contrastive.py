"""Oscar contrastive and Oscar+ 3-way: label conventions and rates, replacements, the loss against a reference."""

from __future__ import annotations

import math

import pytest
import torch

from tests.objectives.stats import assert_distribution, assert_rate
from vlp.objectives.oscar_contrastive import (
    CAPTION_REPLACED,
    MATCHED,
    TAGS_REPLACED,
    contrastive_loss,
    pick_replacements,
    sample_pollution,
)

DRAWS = 40_000


def test_label_convention_follows_the_oscar_checkpoints() -> None:
    assert (MATCHED, TAGS_REPLACED, CAPTION_REPLACED) == (0, 1, 2)


def test_binary_pollution_is_half_matched_half_tags_replaced() -> None:
    labels = sample_pollution(DRAWS, 2, torch.Generator().manual_seed(0))
    assert labels.shape == (DRAWS,) and labels.dtype == torch.long
    assert set(labels.unique().tolist()) == {MATCHED, TAGS_REPLACED}
    assert_rate(float((labels == MATCHED).float().mean()), 0.5, DRAWS, "matched")


def test_three_way_pollution_rates_at_the_defaults() -> None:
    labels = sample_pollution(DRAWS, 3, torch.Generator().manual_seed(1))
    # 50% matched; of the polluted half, a quarter has the caption replaced.
    assert_distribution(torch.bincount(labels, minlength=3), torch.tensor([0.5, 0.375, 0.125]), "3-way labels")


def test_pollution_probabilities_are_configurable() -> None:
    labels = sample_pollution(DRAWS, 3, torch.Generator().manual_seed(2), pollute_probability=0.2, caption_share=0.5)
    assert_distribution(torch.bincount(labels, minlength=3), torch.tensor([0.8, 0.1, 0.1]), "3-way labels")


def test_pollution_rejects_other_class_counts() -> None:
    with pytest.raises(ValueError):
        sample_pollution(4, 4)


def test_replacements_are_uniform_over_the_other_examples() -> None:
    size = 7
    own = torch.arange(DRAWS) % size
    picked = pick_replacements(DRAWS, size, own, torch.Generator().manual_seed(3))
    assert not (picked == own).any()
    assert picked.min() >= 0 and picked.max() < size
    for index in range(size):
        counts = torch.bincount(picked[own == index], minlength=size)
        expected = torch.full((size,), 1 / (size - 1))
        expected[index] = 0.0
        assert_distribution(counts, expected, f"replacements of {index}")


def test_replacements_need_another_example() -> None:
    with pytest.raises(ValueError):
        pick_replacements(1, 1, torch.zeros(1, dtype=torch.long))


@pytest.mark.parametrize("classes", [2, 3])
def test_contrastive_loss_matches_a_reference(classes: int) -> None:
    logits = torch.randn(16, classes, generator=torch.Generator().manual_seed(4))
    labels = sample_pollution(16, classes, torch.Generator().manual_seed(5))
    out = contrastive_loss(logits, labels)
    rows = logits.tolist()
    expected = sum(
        math.log(sum(math.exp(v) for v in row)) - row[label] for row, label in zip(rows, labels.tolist(), strict=True)
    ) / len(rows)
    correct = sum(row.index(max(row)) == label for row, label in zip(rows, labels.tolist(), strict=True))
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    assert out.accuracy.item() == pytest.approx(correct / 16)
    assert out.count == 16
