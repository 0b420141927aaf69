"""Image graphs: regions with their tags and attributes, IoU edges above the threshold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlp.scene_graph.image_graph import build_image_graph


def _reference_iou(a: list[float], b: list[float]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection / union if union > 0 else 0.0


def test_edges_are_the_iou_of_regions_overlapping_more_than_the_threshold() -> None:
    generator = torch.Generator().manual_seed(0)
    corners = torch.rand(12, 2, generator=generator) * 50
    sizes = torch.rand(12, 2, generator=generator) * 40 + 1
    boxes = torch.cat([corners, corners + sizes], dim=1)
    graph = build_image_graph(boxes, [f"tag{i}" for i in range(12)], [["red"]] * 12)
    assert graph.num_regions == 12 and graph.tags[3] == "tag3" and graph.attributes[0] == ("red",)
    listed = boxes.tolist()
    for i in range(12):
        for j in range(12):
            iou = _reference_iou(listed[i], listed[j])
            expected = iou if i != j and iou > 0.2 else 0.0
            assert graph.edges[i, j].item() == pytest.approx(expected, abs=1e-6)
    assert (graph.edges > 0).any()


def test_threshold_is_configurable_and_numpy_boxes_work() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 7], [20, 20, 21, 21], [20, 20, 20, 20]], dtype=np.float32)
    strict = build_image_graph(boxes, ["a", "b", "c", "d"], None, iou_threshold=0.8)
    assert strict.edges.sum() == 0 and strict.attributes == ((), (), (), ())
    loose = build_image_graph(boxes, ["a", "b", "c", "d"], None)
    assert loose.edges[0, 1].item() == pytest.approx(0.7)
    assert loose.edges[2:, 2:].sum() == 0  # a zero-area box overlaps nothing


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError):
        build_image_graph(torch.zeros(2, 4), ["a"], [[], []])
