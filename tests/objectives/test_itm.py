"""Image-text matching: label convention, negative rate, uniform and similarity-weighted negatives, rows of one image
excluded from each other's negatives, the loss."""

from __future__ import annotations

import math

import pytest
import torch

from tests.objectives.stats import assert_distribution, assert_rate
from vlp.objectives.itm import itm_loss, pair_images, sample_itm_pairs


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


def softmax_over_allowed(similarity: torch.Tensor, allowed: list[list[bool]]) -> torch.Tensor:
    """Reference: per row, exp(similarity) normalised over the allowed images, 0 elsewhere (written with loops)."""
    rows = []
    for scores, keep in zip(similarity.tolist(), allowed, strict=True):
        weights = [math.exp(score) if ok else 0.0 for score, ok in zip(scores, keep, strict=True)]
        rows.append([weight / sum(weights) for weight in weights])
    return torch.tensor(rows, dtype=torch.float64)


def draw_counts(batch: int, rounds: int, seed: int, **pairing) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, B] how often text i was paired with image j over `rounds` calls of `pair_images` with every text marked
    negative, and Long[B] how often each text kept its own image (label 1)."""
    generator = torch.Generator().manual_seed(seed)
    counts, kept = torch.zeros(batch, batch, dtype=torch.long), torch.zeros(batch, dtype=torch.long)
    for _ in range(rounds):
        image_index, labels = pair_images(torch.ones(batch, dtype=torch.bool), generator, **pairing)
        assert torch.equal(labels, (image_index == torch.arange(batch)).long())
        counts[torch.arange(batch), image_index] += 1
        kept += labels
    return counts, kept


def test_an_overwhelmingly_similar_image_is_drawn_as_often_as_its_softmax_says() -> None:
    # Text i scores image (i + 2) % B at 5 and every other image at 0 (its own at 50, which must be ignored): that
    # image takes e^5 / (e^5 + B - 2) of the draws, about 97%, the other B - 2 share the rest evenly.
    batch, rounds = 6, 3000
    favourite = (torch.arange(batch) + 2) % batch
    similarity = torch.zeros(batch, batch)
    similarity[torch.arange(batch), favourite] = 5.0
    similarity.fill_diagonal_(50.0)
    counts, kept = draw_counts(batch, rounds, 6, similarity=similarity)
    allowed = [[i != j for j in range(batch)] for i in range(batch)]
    expected = softmax_over_allowed(similarity, allowed)
    assert (kept == 0).all()
    for row in range(batch):
        assert expected[row, favourite[row]] > 0.95
        assert_distribution(counts[row], expected[row], f"hard negatives of text {row}")


def test_rows_of_the_same_image_are_never_drawn_for_each_other() -> None:
    # Rows 0-1 and 3-5 hold one image each; the similarity prefers exactly those rows, which must never be drawn.
    image_ids = ["a", "a", "b", "c", "c", "c", "d"]
    batch = len(image_ids)
    same_image = torch.tensor([[x == y for y in image_ids] for x in image_ids])
    similarity = torch.where(same_image, 20.0, torch.arange(batch, dtype=torch.float).expand(batch, batch) / 2)
    counts, kept = draw_counts(batch, 1000, 7, similarity=similarity, same_image=same_image)
    assert (kept == 0).all()
    expected = softmax_over_allowed(similarity, (~same_image).tolist())
    for row in range(batch):
        assert_distribution(counts[row], expected[row], f"hard negatives of text {row}")
    # Without similarities the other images are drawn uniformly, still never one of the same image.
    uniform_counts, _ = draw_counts(batch, 1000, 8, same_image=same_image)
    for row in range(batch):
        allowed = ~same_image[row]
        assert_distribution(uniform_counts[row], allowed.double() / allowed.sum(), f"uniform negatives of {row}")


def test_a_text_with_no_other_image_in_the_batch_stays_matched() -> None:
    same_image = torch.tensor([[True, True, False], [True, True, False], [False, False, True]])
    for seed in range(20):
        image_index, labels = pair_images(
            torch.ones(2, dtype=torch.bool), torch.Generator().manual_seed(seed), same_image=same_image[:2, :2]
        )
        assert image_index.tolist() == [0, 1] and labels.tolist() == [1, 1]
    # Texts not marked negative keep their image whatever the similarity.
    similarity = torch.tensor([[0.0, 9.0, 9.0], [9.0, 0.0, 9.0], [9.0, 9.0, 0.0]])
    image_index, labels = sample_itm_pairs(3, torch.Generator().manual_seed(0), 0.0, similarity, same_image)
    assert image_index.tolist() == [0, 1, 2] and labels.tolist() == [1, 1, 1]
    image_index, labels = sample_itm_pairs(3, torch.Generator().manual_seed(0), 1.0, similarity, same_image)
    assert image_index.tolist()[2] in (0, 1) and labels.tolist() == [0, 0, 0]


def test_a_single_pair_stays_matched() -> None:
    image_index, labels = sample_itm_pairs(1, torch.Generator().manual_seed(3))
    assert image_index.tolist() == [0] and labels.tolist() == [1]


def test_similarity_and_same_image_must_be_square_in_the_batch() -> None:
    with pytest.raises(ValueError, match="similarity"):
        sample_itm_pairs(3, similarity=torch.zeros(3, 4))
    with pytest.raises(ValueError, match="same_image"):
        sample_itm_pairs(3, same_image=torch.zeros(4, 3, dtype=torch.bool))


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
