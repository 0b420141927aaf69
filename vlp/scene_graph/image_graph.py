"""Image scene graphs: regions as object nodes with their tags and attributes, edges between overlapping regions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from vlp.scene_graph.graph import ImageGraph

IOU_THRESHOLD = 0.2


def pairwise_iou(boxes: Tensor) -> Tensor:
    """IoU of every pair of [K, 4] x1, y1, x2, y2 boxes, [K, K]; 0 where both boxes have no area.

    Written out rather than taken from torchvision so that importing the objectives does not import torchvision.
    """
    top_left = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    intersection = (bottom_right - top_left).clamp(min=0).prod(dim=-1)
    area = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(dim=-1)
    union = area[:, None] + area[None, :] - intersection
    return torch.where(union > 0, intersection / union.clamp(min=torch.finfo(boxes.dtype).tiny), 0.0)


def build_image_graph(
    boxes: Tensor | np.ndarray,
    tags: Sequence[str],
    attributes: Sequence[Sequence[str]] | None = None,
    iou_threshold: float = IOU_THRESHOLD,
) -> ImageGraph:
    """Builds the graph of one image's regions.

    Two regions are linked when their IoU exceeds `iou_threshold` (ROSITA: 0.2), with the IoU as the edge's
    similarity: a region that overlaps the anchor much is likely a part or a duplicate of it and would give it away.

    Args:
        boxes: [K, 4] pixel boxes x1, y1, x2, y2.
        tags: K label names (the detector's class of each region).
        attributes: K lists of attribute names; None gives every region none.
        iou_threshold: overlap above which two regions are linked.

    Returns:
        The graph; `edges` is Float[K, K] symmetric with a zero diagonal.
    """
    boxes = torch.as_tensor(boxes, dtype=torch.float32).detach().cpu().reshape(-1, 4)
    attributes = [[] for _ in tags] if attributes is None else attributes
    if not len(tags) == len(attributes) == boxes.shape[0]:
        raise ValueError(f"got {boxes.shape[0]} boxes, {len(tags)} tags and {len(attributes)} attribute lists")
    iou = pairwise_iou(boxes)
    edges = torch.where(iou > iou_threshold, iou, torch.zeros_like(iou)).fill_diagonal_(0.0)
    return ImageGraph(boxes=boxes, tags=tuple(tags), attributes=tuple(tuple(a) for a in attributes), edges=edges)
