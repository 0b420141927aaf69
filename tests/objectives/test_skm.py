"""Structural knowledge masking: the per-node formula, its empirical rates per node class, anchors, spans, fallback."""

from __future__ import annotations

import itertools

import pytest
import torch

from tests.objectives.stats import assert_rate
from vlp.objectives.skm import sample_skm_masks, skm_node_probabilities
from vlp.scene_graph import TextAttribute, TextGraph, TextObject, TextRelation, build_image_graph, unify

ALPHA = 0.4
ANCHOR = 0.3
# Tags whose similarity to a caption word is not 1, to exercise (1 - alpha) * (1 - t) with 0 < t < 1.
PARTIAL = {("circle", "disc"): 0.7, ("square", "box"): 0.6}


def _similarity(word: str, tag: str) -> float:
    return 1.0 if word == tag else PARTIAL.get((word, tag), 0.0)


def example_graph():
    """ "a red circle left of a big square" with regions: circle, disc (overlapping the circle), box, triangle.

    Text nodes: 0 circle, 1 square (objects), 2 red, 3 big (attributes), 4 "left of" (relation).
    Regions: 0 circle, 1 disc (IoU 0.6 with region 0), 2 box, 3 triangle (isolated).
    """
    tokens = ("a", "red", "circle", "left", "of", "a", "big", "square")
    text = TextGraph(
        tokens,
        objects=(TextObject("circle", (2, 3)), TextObject("square", (7, 8))),
        attributes=(TextAttribute(0, "red", (1, 2)), TextAttribute(1, "big", (6, 7))),
        relations=(TextRelation(0, 1, "left of", (3, 5)),),
    )
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 6.0], [50.0, 50.0, 60.0, 60.0], [80, 0, 90, 10]])
    image = build_image_graph(boxes, ["circle", "disc", "box", "triangle"], [["red"], [], ["big"], []])
    return unify(text, image, similarity=_similarity)


def reference_probabilities(graph, text_anchors: set[int], region_anchors: set[int], alpha: float):
    """ROSITA's Eq. 7 with plain loops over the graph's edges, the maximum where a node is reached several ways."""
    text = [0.0] * graph.text.num_nodes
    regions = [0.0] * graph.image.num_regions
    for a in text_anchors:
        text[a] = 1.0
        for j in range(graph.text.num_nodes):
            if graph.text_edges[a, j] > 0:
                text[j] = max(text[j], alpha * float(graph.text_edges[a, j]))
        for r in range(graph.image.num_regions):
            if graph.cross_edges[a, r] > 0:
                regions[r] = max(regions[r], (1 - alpha) * (1 - float(graph.cross_edges[a, r])))
    for a in region_anchors:
        regions[a] = 1.0
        for r in range(graph.image.num_regions):
            if graph.image_edges[a, r] > 0:
                regions[r] = max(regions[r], alpha * float(graph.image_edges[a, r]))
        for j in range(graph.text.num_nodes):
            if graph.cross_edges[j, a] > 0:
                text[j] = max(text[j], (1 - alpha) * (1 - float(graph.cross_edges[j, a])))
    for a in text_anchors:
        text[a] = 1.0
    for a in region_anchors:
        regions[a] = 1.0
    return text, regions


def test_example_graph_edges() -> None:
    graph = example_graph()
    assert graph.cross_edges[0, 0] == 1.0 and graph.cross_edges[0, 1] == pytest.approx(0.7)
    assert graph.cross_edges[1, 2] == pytest.approx(0.6) and graph.cross_edges[:, 3].sum() == 0
    assert graph.image_edges[0, 1] == pytest.approx(0.6) and graph.image_edges[2].sum() == 0


@pytest.mark.parametrize(
    ("text_anchors", "region_anchors"), [({0}, set()), (set(), {0}), ({1}, {1}), ({0, 1}, {3}), (set(), {2, 3})]
)
def test_node_probabilities_follow_the_formula(text_anchors: set[int], region_anchors: set[int]) -> None:
    graph = example_graph()
    text_mask = torch.tensor([i in text_anchors for i in range(5)])
    region_mask = torch.tensor([r in region_anchors for r in range(4)])
    got = skm_node_probabilities(graph, alpha=ALPHA, anchors=(text_mask, region_mask))
    text, regions = reference_probabilities(graph, text_anchors, region_anchors, ALPHA)
    torch.testing.assert_close(got.text, torch.tensor(text))
    torch.testing.assert_close(got.regions, torch.tensor(regions))


def test_node_probabilities_by_hand_for_a_caption_anchor() -> None:
    graph = example_graph()
    anchors = (torch.tensor([True, False, False, False, False]), torch.zeros(4, dtype=torch.bool))
    got = skm_node_probabilities(graph, alpha=ALPHA, anchors=anchors)
    # circle: anchor; square (related object), red (its attribute), "left of" (its relation): alpha * 1; big: not
    # in the circle's context. Regions: the exact match stays visible, the 0.7 match is masked with 0.6 * 0.3.
    torch.testing.assert_close(got.text, torch.tensor([1.0, ALPHA, ALPHA, 0.0, ALPHA]))
    torch.testing.assert_close(got.regions, torch.tensor([0.0, (1 - ALPHA) * 0.3, 0.0, 0.0]))


def test_only_object_nodes_can_be_anchors() -> None:
    graph = example_graph()
    with pytest.raises(ValueError):
        skm_node_probabilities(graph, anchors=(torch.tensor([False, False, True, False, False]), torch.zeros(4) > 0))


def _anchor_distribution(candidates: int, probability: float):
    """Every anchor set with its probability: independent draws, one uniform candidate if none is drawn."""
    for chosen in itertools.product([False, True], repeat=candidates):
        count = sum(chosen)
        if count:
            yield chosen, probability**count * (1 - probability) ** (candidates - count)
    for k in range(candidates):
        yield tuple(i == k for i in range(candidates)), (1 - probability) ** candidates / candidates


def test_anchor_rate_per_object_node() -> None:
    # One caption object and one region: anchors drawn with p each, one of the two when neither is drawn.
    text = TextGraph(("a", "circle"), objects=(TextObject("circle", (1, 2)),))
    graph = unify(text, build_image_graph(torch.tensor([[0.0, 0.0, 5.0, 5.0]]), ["circle"], [[]]))
    generator = torch.Generator().manual_seed(0)
    draws = 1500
    anchors = torch.zeros(2)
    for _ in range(draws):
        probabilities = skm_node_probabilities(graph, ANCHOR, ALPHA, generator)
        # Only an anchor reaches 1: context probabilities stay below it for 0 < alpha < 1.
        anchors += torch.cat([probabilities.text, probabilities.regions]).eq(1.0).float()
    for rate in (anchors / draws).tolist():
        assert_rate(rate, ANCHOR + (1 - ANCHOR) ** 2 / 2, draws, "anchor rate")


def test_masking_rates_per_node_match_the_formula_empirically() -> None:
    graph = example_graph()
    spans = graph.text.node_spans()
    # Exact marginal mask probability of every node: anchors over all anchor sets, then Bernoulli(p_j).
    expected_text = torch.zeros(5, dtype=torch.float64)
    expected_regions = torch.zeros(4, dtype=torch.float64)
    for chosen, weight in _anchor_distribution(6, ANCHOR):
        text_anchors = {i for i in range(2) if chosen[i]}
        region_anchors = {r for r in range(4) if chosen[2 + r]}
        text, regions = reference_probabilities(graph, text_anchors, region_anchors, ALPHA)
        expected_text += weight * torch.tensor(text, dtype=torch.float64)
        expected_regions += weight * torch.tensor(regions, dtype=torch.float64)

    generator = torch.Generator().manual_seed(1)
    draws = 4000
    token_counts = torch.zeros(8)
    region_counts = torch.zeros(4)
    for _ in range(draws):
        tokens, regions = sample_skm_masks(graph, 8, 4, spans, ANCHOR, ALPHA, generator)
        token_counts += tokens.float()
        region_counts += regions.float()
    kinds = graph.text.node_kinds()
    for node, (start, end) in enumerate(spans):
        for position in range(start, end):  # every token of a node is masked with the node
            assert_rate(
                token_counts[position].item() / draws, expected_text[node].item(), draws, f"{kinds[node]} {node}"
            )
    assert token_counts[0] == token_counts[5] == 0  # articles belong to no node
    for region in range(4):
        assert_rate(region_counts[region].item() / draws, expected_regions[region].item(), draws, f"region {region}")


def test_truncated_nodes_cannot_be_anchors_and_are_never_masked_past_the_input() -> None:
    graph = example_graph()
    generator = torch.Generator().manual_seed(2)
    for _ in range(300):
        # Only "a red circle" and the first two regions are in the input.
        tokens, regions = sample_skm_masks(graph, 3, 2, graph.text.node_spans(), ANCHOR, ALPHA, generator)
        assert tokens.shape == (3,) and regions.shape == (2,)
        assert tokens.any() or regions.any()  # an anchor among circle, region 0, region 1 is always masked


def test_no_present_object_means_fall_back_to_random_masking() -> None:
    graph = example_graph()
    assert sample_skm_masks(graph, 2, 0, graph.text.node_spans()) is None
    empty = unify(TextGraph(("nothing",)), build_image_graph(torch.zeros(0, 4), [], []))
    assert sample_skm_masks(empty, 1, 0, []) is None
    assert skm_node_probabilities(empty).text.numel() == 0


def test_spans_must_cover_every_text_node() -> None:
    with pytest.raises(ValueError):
        sample_skm_masks(example_graph(), 8, 4, [(2, 3)])
