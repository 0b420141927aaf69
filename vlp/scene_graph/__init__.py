"""Scene graphs of captions and images and their union, for ROSITA structural knowledge masking (`vlp.objectives.skm`).

Usage::

    text = parse_caption(tokens, nouns=label_names)  # or text_graph_from_gold(entry) where the corpus ships graphs
    image = build_image_graph(boxes, tags, attributes)
    graph = unify(text, image)
"""

from vlp.scene_graph.graph import (
    ImageGraph,
    TextAttribute,
    TextGraph,
    TextObject,
    TextRelation,
    UnifiedGraph,
    token_spans,
)
from vlp.scene_graph.image_graph import build_image_graph
from vlp.scene_graph.similarity import lemmas, tag_word_similarity
from vlp.scene_graph.text_parser import parse_caption, text_graph_from_gold
from vlp.scene_graph.unified import unify

__all__ = [
    "ImageGraph",
    "TextAttribute",
    "TextGraph",
    "TextObject",
    "TextRelation",
    "UnifiedGraph",
    "build_image_graph",
    "lemmas",
    "parse_caption",
    "tag_word_similarity",
    "text_graph_from_gold",
    "token_spans",
    "unify",
]
