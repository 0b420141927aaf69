"""Bottom-up-attention region selection: which proposals of an image become its stored regions.

Plain torch and torchvision (no detectron2), so the rule is tested on its own. It follows `generate_tsv.py` of the
bottom-up-attention release: for every object class, NMS over the boxes with that class's scores; a box's score is the
best score it keeps in any class; boxes scoring at least the threshold are kept, topped up to `min_boxes` or cut to
`max_boxes` by score. Two choices of ours where the release leaves things open: regions come out sorted by score
(the release keeps proposal order between the limits), and a box's label is the class that gave it its score (a box
suppressed in every class keeps its raw best class and the score 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.ops import nms


@dataclass
class Selection:
    """The kept proposals of one image, best first.

    Attributes:
        indices: [K] int64 rows of the proposals.
        scores: [K] float score of each (its best class score that survived NMS).
        labels: [K] int64 class of that score, background excluded.
    """

    indices: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor


def pairwise_iou(boxes: torch.Tensor) -> torch.Tensor:
    """[R, 4] -> [R, R] IoU of every pair (NaN between two empty boxes, which then never suppress each other)."""
    top_left = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=-1)
    area = (boxes[:, 2:] - boxes[:, :2]).prod(dim=-1)
    return inter / (area[:, None] + area[None, :] - inter)


# Suppression flags travel as bits, 32 boxes to an int64 word: each greedy step then touches [C, R / 32] words instead
# of [C, R] flags, small enough that torch runs it on one thread (10-30x faster than the flags on a busy CPU).
_BITS = 32


def _pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """[..., R] bool -> [..., ceil(R / 32)] int64, box r in bit r % 32 of word r // 32."""
    count = mask.shape[-1]
    words = -(-count // _BITS)
    padded = torch.cat([mask, mask.new_zeros(*mask.shape[:-1], words * _BITS - count)], dim=-1)
    weights = torch.ones(_BITS, dtype=torch.int64, device=mask.device) << torch.arange(_BITS, device=mask.device)
    return (padded.view(*mask.shape[:-1], words, _BITS).long() * weights).sum(dim=-1)


def _greedy_nms(overlaps: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Greedy NMS of all classes at once over shared boxes: at step i every class visits its i-th best box.

    Args:
        overlaps: [R, W] bit-packed "suppresses" relation (`_pack_bits` of IoU > threshold).
        scores: [R, C].

    Returns:
        [R, C] bool, True where the box survives NMS in that class.
    """
    count, classes = scores.shape
    order = scores.argsort(dim=0, descending=True, stable=True)
    class_index = torch.arange(classes, device=scores.device)
    suppressed = torch.zeros(classes, overlaps.shape[1], dtype=torch.int64, device=scores.device)
    keep = torch.zeros(classes, count, dtype=torch.bool, device=scores.device)
    for rank in range(count):
        box = order[rank]
        alive = (suppressed[class_index, box // _BITS] >> (box % _BITS)) & 1 == 0
        keep[class_index, box] = alive
        suppressed |= overlaps.index_select(0, box) * alive[:, None]
    return keep.T


def scores_after_nms(boxes: torch.Tensor, scores: torch.Tensor, nms_threshold: float) -> torch.Tensor:
    """Per-class NMS over every class: each (box, class) score, zeroed where NMS suppressed the box in that class.

    The rule of `torchvision.ops.nms`: a box suppresses the lower-scoring boxes whose IoU with it is above the
    threshold. Boxes shared by all classes (the proposals) go through all classes at once (equal scores in proposal
    order), as 1600 NMS calls per image would dominate the extraction time; class-specific boxes take one
    `torchvision.ops.nms` per class, as their IoUs for all classes at once would be C * R * R numbers.

    Args:
        boxes: [R, 4] boxes x1, y1, x2, y2 shared by all classes, or [R, C, 4] one box per class.
        scores: [R, C] class probabilities without the background column.
        nms_threshold: IoU above which a lower-scoring box of the same class is suppressed.

    Returns:
        [R, C] the surviving scores.
    """
    if boxes.dim() == 2:
        return scores * _greedy_nms(_pack_bits(pairwise_iou(boxes.float()) > nms_threshold), scores)
    kept = torch.zeros_like(scores)
    for cls in range(scores.shape[1]):
        keep = nms(boxes[:, cls].float(), scores[:, cls].float(), nms_threshold)
        kept[keep, cls] = scores[keep, cls]
    return kept


def select_regions(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    score_threshold: float = 0.2,
    nms_threshold: float = 0.3,
    min_boxes: int = 10,
    max_boxes: int = 100,
) -> Selection:
    """Picks an image's regions from its proposals as bottom-up-attention does.

    Args:
        boxes: [R, 4] or [R, C, 4] boxes (see `scores_after_nms`).
        scores: [R, C] class probabilities without the background column.
        score_threshold: keep boxes whose score after NMS is at least this.
        nms_threshold: per-class NMS IoU threshold.
        min_boxes: at least this many boxes (fewer only if there are fewer proposals).
        max_boxes: at most this many; `min_boxes == max_boxes` gives a fixed count.

    Returns:
        the selection, sorted by score (descending; ties keep proposal order).
    """
    if min_boxes > max_boxes:
        raise ValueError(f"min_boxes ({min_boxes}) is larger than max_boxes ({max_boxes})")
    kept = scores_after_nms(boxes, scores, nms_threshold)
    box_scores, labels = kept.max(dim=1)
    labels = torch.where(box_scores > 0, labels, scores.argmax(dim=1))
    order = torch.argsort(box_scores, descending=True, stable=True)
    passing = int((box_scores >= score_threshold).sum())
    count = min(max(passing, min_boxes), max_boxes, len(order))
    indices = order[:count]
    return Selection(indices=indices, scores=box_scores[indices], labels=labels[indices])


def top_attributes(probs: torch.Tensor, count: int, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The most likely attributes of each region.

    Args:
        probs: [K, A + 1] softmax over the attributes, the "no attribute" class last.
        count: attributes kept per region at most.
        threshold: keep an attribute only if its probability is at least this.

    Returns:
        [K, count] int64 attribute indices (-1 pads) and [K, count] their probabilities (0 pads), best first.
    """
    values, indices = probs[:, :-1].topk(min(count, probs.shape[1] - 1), dim=1)
    dropped = values < threshold
    return indices.masked_fill(dropped, -1), values.masked_fill(dropped, 0.0)
