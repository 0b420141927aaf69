"""Masked region modelling: selection with at least one region, conditional masking, MRFR and MRC against references."""

from __future__ import annotations

import math

import pytest
import torch

from tests.objectives.stats import assert_rate
from vlp.objectives.masked_regions import (
    choose_masked_modality,
    region_feature_regression_loss,
    region_label_loss,
    sample_region_mask,
)


def test_region_selection_rate_with_at_least_one_region_per_example() -> None:
    batch, width, probability = 20_000, 6, 0.15
    lengths = torch.arange(batch) % (width + 1)  # 0 .. 6 real regions, padding after them
    region_mask = torch.arange(width) < lengths[:, None]
    selected = sample_region_mask(region_mask, probability, torch.Generator().manual_seed(0))
    assert not (selected & ~region_mask).any()
    assert torch.equal(selected.any(dim=1), lengths > 0)
    for n in range(1, width + 1):
        rows = selected[lengths == n][:, :n]
        # Independent selection, plus one uniformly chosen region when none was selected.
        expected = probability + (1 - probability) ** n / n
        assert_rate(float(rows.float().mean()), expected, rows.numel(), f"rate with {n} regions")
        for column in range(n):  # the fallback region is uniform: every position has the same rate
            assert_rate(float(rows[:, column].float().mean()), expected, rows.shape[0], f"position {column} of {n}")


def test_conditional_masking_picks_text_or_regions_evenly() -> None:
    text = choose_masked_modality(20_000, torch.Generator().manual_seed(1))
    assert text.dtype == torch.bool
    assert_rate(float(text.float().mean()), 0.5, 20_000, "text share")
    skewed = choose_masked_modality(20_000, torch.Generator().manual_seed(2), text_probability=0.2)
    assert_rate(float(skewed.float().mean()), 0.2, 20_000, "text share")


def test_feature_regression_is_the_mean_squared_error_over_elements() -> None:
    generator = torch.Generator().manual_seed(3)
    predicted = torch.randn(5, 7, generator=generator, requires_grad=True)
    target = torch.randn(5, 7, generator=generator)
    out = region_feature_regression_loss(predicted, target)
    pairs = zip(predicted.detach().flatten().tolist(), target.flatten().tolist(), strict=True)
    expected = sum((p - t) ** 2 for p, t in pairs) / 35
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    assert out.accuracy is None and out.count == 5


def test_hard_label_classification_is_cross_entropy() -> None:
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(9, 5, generator=generator)
    target = torch.randint(0, 5, (9,), generator=generator)
    out = region_label_loss(logits, target)
    rows = logits.tolist()
    expected = (
        sum(math.log(sum(math.exp(v) for v in row)) - row[t] for row, t in zip(rows, target.tolist(), strict=True)) / 9
    )
    assert out.loss.item() == pytest.approx(expected, rel=1e-5)
    correct = sum(row.index(max(row)) == t for row, t in zip(rows, target.tolist(), strict=True))
    assert out.accuracy.item() == pytest.approx(correct / 9)


def test_soft_label_classification_is_kl_to_the_detector_distribution() -> None:
    generator = torch.Generator().manual_seed(5)
    logits = torch.randn(6, 4, generator=generator)
    target = torch.rand(6, 4, generator=generator)
    target[0, 1] = 0.0  # 0 log 0 = 0
    target = target / target.sum(dim=1, keepdim=True)
    out = region_label_loss(logits, target)
    expected = 0.0
    for row, dist in zip(logits.tolist(), target.tolist(), strict=True):
        log_total = math.log(sum(math.exp(v) for v in row))
        expected += sum(q * (math.log(q) - (v - log_total)) for v, q in zip(row, dist, strict=True) if q > 0)
    assert out.loss.item() == pytest.approx(expected / 6, rel=1e-5)
    assert out.count == 6


def test_nothing_masked_gives_a_zero_loss_in_the_graph() -> None:
    predicted = torch.zeros(0, 3, requires_grad=True)
    for out in (
        region_feature_regression_loss(predicted, torch.zeros(0, 3)),
        region_label_loss(predicted, torch.zeros(0, 3)),
        region_label_loss(predicted, torch.zeros(0, dtype=torch.long)),
    ):
        assert out.count == 0 and out.loss.item() == 0.0 and out.loss.requires_grad
