"""Masked token loss: selection rate, 80/10/10 corruption, special tokens, labels, the loss against a reference."""

from __future__ import annotations

import math

import pytest
import torch

from tests.objectives.stats import assert_distribution, assert_rate
from vlp.objectives.masked_tokens import apply_token_mask, masked_token_loss, sample_token_mask
from vlp.objectives.output import IGNORE_INDEX

PAD, CLS, SEP, MASK = 0, 1, 2, 3
SPECIALS = (PAD, CLS, SEP, MASK)
VOCAB = 50


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_selection_rate_is_15_percent_of_maskable_positions_and_never_elsewhere() -> None:
    maskable = torch.rand(400, 128, generator=_generator(1)) < 0.6
    mask = sample_token_mask(maskable, generator=_generator(2))
    assert mask.dtype == torch.bool and mask.shape == maskable.shape
    assert not (mask & ~maskable).any()
    assert_rate(float(mask[maskable].float().mean()), 0.15, int(maskable.sum()), "selection rate")


def test_selection_is_reproducible_with_a_seeded_generator() -> None:
    maskable = torch.ones(8, 16, dtype=torch.bool)
    first = sample_token_mask(maskable, generator=_generator(5))
    assert torch.equal(first, sample_token_mask(maskable, generator=_generator(5)))


def test_corruption_is_80_mask_10_random_10_unchanged() -> None:
    original = 10
    input_ids = torch.full((2000, 64), original)
    mask = torch.ones_like(input_ids, dtype=torch.bool)
    masked, labels = apply_token_mask(input_ids, mask, MASK, VOCAB, generator=_generator(3), special_ids=SPECIALS)
    trials = input_ids.numel()
    regular = VOCAB - len(SPECIALS)
    # A random replacement equal to the original is indistinguishable from "unchanged".
    assert_rate(float((masked == MASK).float().mean()), 0.8, trials, "[MASK]")
    assert_rate(float((masked == original).float().mean()), 0.1 + 0.1 / regular, trials, "unchanged")
    replaced = masked[(masked != MASK) & (masked != original)]
    assert_rate(replaced.numel() / trials, 0.1 * (regular - 1) / regular, trials, "random")
    # Random replacements are uniform over the regular tokens and never special.
    probabilities = torch.tensor([0.0 if i in SPECIALS or i == original else 1.0 for i in range(VOCAB)])
    assert_distribution(torch.bincount(replaced, minlength=VOCAB), probabilities / probabilities.sum(), "random ids")
    assert torch.equal(labels, input_ids)


def test_special_tokens_are_never_corrupted_or_labelled() -> None:
    input_ids = torch.tensor([[CLS, 11, 12, SEP, 13, 14, SEP, PAD, PAD]] * 500)
    mask = torch.ones_like(input_ids, dtype=torch.bool)
    masked, labels = apply_token_mask(input_ids, mask, MASK, VOCAB, generator=_generator(4), special_ids=SPECIALS)
    special = torch.isin(input_ids, torch.tensor(SPECIALS))
    assert torch.equal(masked[special], input_ids[special])
    assert (labels[special] == IGNORE_INDEX).all()
    assert not torch.isin(masked[~special], torch.tensor([PAD, CLS, SEP])).any()


def test_labels_hold_the_original_at_masked_positions_only() -> None:
    input_ids = torch.randint(4, VOCAB, (64, 32), generator=_generator(6))
    mask = torch.rand(64, 32, generator=_generator(7)) < 0.3
    masked, labels = apply_token_mask(input_ids, mask, MASK, VOCAB, generator=_generator(8), special_ids=SPECIALS)
    assert torch.equal(labels[mask], input_ids[mask])
    assert (labels[~mask] == IGNORE_INDEX).all()
    assert torch.equal(masked[~mask], input_ids[~mask])


def test_label_mask_drops_labels_but_still_corrupts() -> None:
    input_ids = torch.randint(4, VOCAB, (200, 10), generator=_generator(9))
    mask = torch.ones_like(input_ids, dtype=torch.bool)
    keep = torch.zeros_like(mask)
    keep[:, :5] = True  # e.g. caption words kept, polluted tags dropped
    masked, labels = apply_token_mask(input_ids, mask, MASK, VOCAB, _generator(10), SPECIALS, label_mask=keep)
    assert (labels[:, 5:] == IGNORE_INDEX).all() and torch.equal(labels[:, :5], input_ids[:, :5])
    assert (masked[:, 5:] == MASK).float().mean() > 0.7


def _reference_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, int]:
    """Mean -log softmax at the label and top-1 accuracy over labelled rows, with plain loops."""
    losses, correct = [], 0
    for row, label in zip(logits.tolist(), labels.tolist(), strict=True):
        if label == IGNORE_INDEX:
            continue
        log_total = math.log(sum(math.exp(value) for value in row))
        losses.append(log_total - row[label])
        correct += int(max(range(len(row)), key=row.__getitem__) == label)
    return sum(losses) / len(losses), correct / len(losses), len(losses)


def test_masked_token_loss_matches_a_reference() -> None:
    logits = torch.randn(30, 12, generator=_generator(11), requires_grad=True)
    labels = torch.randint(0, 12, (30,), generator=_generator(12))
    labels[::3] = IGNORE_INDEX
    out = masked_token_loss(logits, labels)
    loss, accuracy, count = _reference_cross_entropy(logits.detach(), labels)
    assert out.count == count == 20
    assert out.loss.item() == pytest.approx(loss, rel=1e-5)
    assert float(out.accuracy) == pytest.approx(accuracy)
    out.loss.backward()
    assert logits.grad is not None and (logits.grad[::3] == 0).all()


def test_masked_token_loss_without_labels_is_a_zero_in_the_graph() -> None:
    logits = torch.randn(4, 7, requires_grad=True)
    out = masked_token_loss(logits, torch.full((4,), IGNORE_INDEX))
    assert out.count == 0 and out.accuracy is None and out.loss.item() == 0.0
    out.loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
