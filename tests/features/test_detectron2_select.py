"""Bottom-up-attention region selection against a plain per-class reference (no detectron2 needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import nms

from features.backends.detectron2_select import scores_after_nms, select_regions, top_attributes


def reference_selection(
    boxes: torch.Tensor, probs: torch.Tensor, threshold: float, nms_threshold: float, low: int, high: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """generate_tsv.py's rule written out: one torchvision NMS per class, a box's best kept score, then the limits.

    Returns:
        (indices, scores, labels) of the kept boxes, by score, ties in proposal order.
    """
    count, classes = probs.shape
    best = np.zeros(count)
    labels = probs.argmax(dim=1).numpy()
    for cls in range(classes):
        class_boxes = boxes if boxes.dim() == 2 else boxes[:, cls]
        for index in nms(class_boxes, probs[:, cls], nms_threshold).tolist():
            if probs[index, cls] > best[index]:
                best[index], labels[index] = probs[index, cls], cls
    order = np.argsort(-best, kind="stable")
    kept = int((best >= threshold).sum())
    kept = min(max(kept, low), high, count)
    indices = order[:kept]
    return indices, best[indices], labels[indices]


def random_case(seed: int, count: int = 60, classes: int = 30, per_class: bool = False) -> tuple[torch.Tensor, ...]:
    """Clustered boxes (so that NMS has work) and peaked class probabilities (so that some pass 0.2)."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.rand(6, 2, generator=generator) * 80
    xy = centres[torch.randint(0, 6, (count,), generator=generator)] + torch.randn(count, 2, generator=generator) * 6
    size = 10 + torch.rand(count, 2, generator=generator) * 20
    boxes = torch.cat([xy, xy + size], dim=1)
    if per_class:
        boxes = boxes[:, None] + torch.randn(count, classes, 4, generator=generator)
    logits = torch.randn(count, classes + 1, generator=generator) * 3
    return boxes, logits.softmax(dim=1)[:, :-1]


@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_scores_after_nms_is_per_class_torchvision_nms(seed, per_class):
    boxes, probs = random_case(seed, per_class=per_class)
    kept = scores_after_nms(boxes, probs, 0.3)
    for cls in range(probs.shape[1]):
        class_boxes = boxes if not per_class else boxes[:, cls]
        survivors = torch.zeros(len(boxes), dtype=torch.bool)
        survivors[nms(class_boxes, probs[:, cls], 0.3)] = True
        assert torch.equal(kept[:, cls], torch.where(survivors, probs[:, cls], 0.0))


@pytest.mark.parametrize(
    ("threshold", "low", "high"),
    [(0.2, 10, 100), (0.2, 3, 5), (0.9, 10, 100), (0.0, 1, 100), (0.2, 12, 12), (0.2, 80, 100)],
)
@pytest.mark.parametrize("per_class", [False, True])
def test_select_regions_matches_the_reference(threshold, low, high, per_class):
    boxes, probs = random_case(7, per_class=per_class)
    selection = select_regions(
        boxes, probs, score_threshold=threshold, nms_threshold=0.3, min_boxes=low, max_boxes=high
    )
    indices, scores, labels = reference_selection(boxes, probs, threshold, 0.3, low, high)
    assert selection.indices.tolist() == indices.tolist()
    np.testing.assert_allclose(selection.scores.numpy(), scores, rtol=0, atol=0)
    assert selection.labels.tolist() == labels.tolist()


def test_limits_threshold_and_suppression():
    # Boxes 0 and 1 overlap (IoU 0.9 > 0.3); box 2 stands apart.
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 9], [50, 50, 60, 60]])
    probs = torch.tensor([[0.9, 0.05], [0.8, 0.15], [0.3, 0.1]])
    assert select_regions(boxes, probs, score_threshold=0.2, min_boxes=1, max_boxes=10).indices.tolist() == [0, 2]
    # Box 1 loses class 0 to box 0 but keeps class 1 (0.15): below the threshold, only a top-up brings it in.
    picked = select_regions(boxes, probs, score_threshold=0.2, min_boxes=3, max_boxes=10)
    assert picked.indices.tolist() == [0, 2, 1]
    assert picked.scores.tolist() == pytest.approx([0.9, 0.3, 0.15])
    assert picked.labels.tolist() == [0, 0, 1]
    assert select_regions(boxes, probs, score_threshold=0.2, min_boxes=1, max_boxes=1).indices.tolist() == [0]
    assert select_regions(boxes, probs, score_threshold=0.95, min_boxes=2, max_boxes=5).indices.tolist() == [0, 2]
    assert len(select_regions(boxes, probs, min_boxes=10, max_boxes=36).indices) == 3  # no more than there are
    with pytest.raises(ValueError, match="min_boxes"):
        select_regions(boxes, probs, min_boxes=5, max_boxes=4)


def test_box_suppressed_in_every_class_keeps_its_raw_class():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10]])
    probs = torch.tensor([[0.6, 0.3], [0.2, 0.5]])  # box 1 duplicates box 0, which outscores it only in class 0
    picked = select_regions(boxes, probs, min_boxes=2)
    assert picked.indices.tolist() == [0, 1] and picked.labels.tolist() == [0, 1]
    probs = torch.tensor([[0.6, 0.3], [0.2, 0.1]])  # now box 0 wins both classes
    picked = select_regions(boxes, probs, min_boxes=2)
    assert picked.scores.tolist() == pytest.approx([0.6, 0.0]) and picked.labels.tolist() == [0, 0]


def test_top_attributes():
    probs = torch.tensor([[0.5, 0.05, 0.3, 0.15], [0.02, 0.03, 0.01, 0.94]])  # last column: "no attribute"
    indices, scores = top_attributes(probs, count=2, threshold=0.1)
    assert indices.tolist() == [[0, 2], [-1, -1]]
    torch.testing.assert_close(scores, torch.tensor([[0.5, 0.3], [0.0, 0.0]]))
    indices, _ = top_attributes(probs, count=5, threshold=0.0)  # never more than there are attributes
    assert indices.tolist() == [[0, 2, 1], [1, 0, 2]]
