"""Text graph node order and edges, unified graphs, and word-to-subword spans."""

from __future__ import annotations

import functools

import pytest
import torch

from vlp.scene_graph import (
    TextAttribute,
    TextGraph,
    TextObject,
    TextRelation,
    build_image_graph,
    tag_word_similarity,
    token_spans,
    unify,
)

TEXT = TextGraph(
    ("two", "dogs", "next", "to", "a", "red", "disc"),
    objects=(TextObject("dogs", (1, 2)), TextObject("disc", (6, 7))),
    attributes=(TextAttribute(1, "red", (5, 6)),),
    relations=(TextRelation(0, 1, "next to", (2, 4)),),
)


def test_nodes_are_objects_then_attributes_then_relations() -> None:
    assert TEXT.num_nodes == 4
    assert TEXT.node_kinds() == ["object", "object", "attribute", "relation"]
    assert TEXT.node_spans() == [(1, 2), (6, 7), (5, 6), (2, 4)]
    assert TEXT.node_names() == ["dogs", "disc", "red", "next to"]


def test_adjacency_links_attributes_relations_and_related_objects() -> None:
    expected = torch.zeros(4, 4)
    for i, j in [(1, 2), (0, 3), (1, 3), (0, 1)]:
        expected[i, j] = expected[j, i] = 1.0
    assert torch.equal(TEXT.adjacency(), expected)


def test_graph_parts_must_refer_to_existing_objects() -> None:
    with pytest.raises(ValueError):
        TextGraph(("x",), attributes=(TextAttribute(0, "red", (0, 1)),))


def test_unify_links_objects_to_regions_with_similar_tags() -> None:
    image = build_image_graph(torch.tensor([[0.0, 0, 9, 9], [0, 0, 9, 8], [50, 50, 60, 60]]), ["dog", "circle", "dog"])
    graph = unify(TEXT, image)
    expected = torch.zeros(4, 3)
    expected[0, 0] = expected[0, 2] = 1.0  # "dogs" ~ "dog"; "disc" has no similar tag without word vectors
    assert torch.equal(graph.cross_edges, expected)
    assert torch.equal(graph.text_edges, TEXT.adjacency()) and torch.equal(graph.image_edges, image.edges)
    assert graph.text_object_mask().tolist() == [True, True, False, False]

    vectors = {"disc": [1.0, 1.0], "circle": [1.0, 0.9], "dog": [-1.0, 1.0]}
    with_vectors = unify(TEXT, image, similarity=functools.partial(tag_word_similarity, embeddings=vectors))
    assert with_vectors.cross_edges[1, 1].item() == pytest.approx(0.9986, abs=1e-4)
    assert with_vectors.cross_edges[1, 0] == 0  # cosine 0 is below the 0.5 threshold
    assert unify(TEXT, image, threshold=1.1).cross_edges.sum() == 0


def test_word_spans_map_to_subword_spans() -> None:
    # [CLS] two dogs next to a red di ##sc [SEP] tags...
    word_ids = [None, 0, 1, 2, 3, 4, 5, 6, 6, None, None]
    assert token_spans(TEXT.node_spans(), word_ids) == [(2, 3), (7, 9), (6, 7), (3, 5)]
    truncated = [None, 0, 1, 2, None]  # the caption was cut after "next"
    assert token_spans(TEXT.node_spans(), truncated) == [(2, 3), (0, 0), (0, 0), (3, 4)]
