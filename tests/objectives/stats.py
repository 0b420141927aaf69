"""Statistical checks for the sampling tests: binomial standard-error tolerances, chi-square critical values."""

from __future__ import annotations

import math

import torch

# Four and a bit standard errors: a correct sampler fails a single check about once in 30,000 runs.
Z = 4.0


def assert_rate(observed: float, expected: float, trials: int, what: str = "rate") -> None:
    """Asserts a Bernoulli rate over `trials` independent draws is within `Z` standard errors of `expected`."""
    error = math.sqrt(max(expected * (1 - expected), 1e-12) / trials)
    assert abs(observed - expected) <= Z * error + 1e-9, f"{what}: observed {observed:.4f}, expected {expected:.4f}"


def chi_square_critical(degrees: int, z: float = Z) -> float:
    """Upper critical value of the chi-square distribution at the normal quantile `z` (Wilson-Hilferty approximation,
    accurate to a fraction of a percent for the degrees used here)."""
    term = 2.0 / (9.0 * degrees)
    return degrees * (1.0 - term + z * math.sqrt(term)) ** 3


def assert_distribution(counts: torch.Tensor, probabilities: torch.Tensor, what: str = "counts") -> None:
    """Pearson's chi-square goodness of fit of `counts` to `probabilities` (entries with probability 0 must be 0)."""
    counts, probabilities = counts.double(), probabilities.double()
    support = probabilities > 0
    assert counts[~support].sum() == 0, f"{what}: draws outside the support"
    expected = probabilities[support] * counts.sum()
    statistic = float(((counts[support] - expected) ** 2 / expected).sum())
    critical = chi_square_critical(int(support.sum()) - 1)
    assert statistic < critical, f"{what}: chi-square {statistic:.1f} >= {critical:.1f}"
