"""The unified scene graph of an image-text pair: both graphs plus cross-modal edges from caption objects to regions."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vlp.scene_graph.graph import ImageGraph, TextGraph, UnifiedGraph
from vlp.scene_graph.similarity import tag_word_similarity

SIMILARITY_THRESHOLD = 0.5


def unify(
    text: TextGraph,
    image: ImageGraph,
    threshold: float = SIMILARITY_THRESHOLD,
    similarity: Callable[[str, str], float] = tag_word_similarity,
) -> UnifiedGraph:
    """Links every caption object to the regions whose tag is similar to its noun.

    Args:
        text: the caption's graph.
        image: the image's graph.
        threshold: least similarity of a cross-modal edge (ROSITA: 0.5).
        similarity: `(word, tag) -> [0, 1]`; bind word vectors with `functools.partial(tag_word_similarity,
            embeddings=...)` to link synonyms.

    Returns:
        The unified graph; `cross_edges[j, r]` is the similarity of text object j and region r where it reaches
        `threshold`, else 0.
    """
    cross = torch.zeros(text.num_nodes, image.num_regions)
    scores: dict[tuple[str, str], float] = {}
    for j, obj in enumerate(text.objects):
        for r, tag in enumerate(image.tags):
            key = (obj.name, tag)
            if key not in scores:
                scores[key] = float(similarity(obj.name, tag))
            if scores[key] >= threshold:
                cross[j, r] = scores[key]
    return UnifiedGraph(
        text=text, image=image, text_edges=text.adjacency(), image_edges=image.edges.clone(), cross_edges=cross
    )
