"""The scene graphs that structural knowledge masking (ROSITA SKM) walks: text, image, and their union.

Text graph nodes are numbered objects first, then attributes, then relations (`TextGraph.node_spans` gives them in this
order); image graph nodes are the regions in store order. Edge weights are similarities in (0, 1]; 0 means no edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

Span = tuple[int, int]
"""[start, end) indices into a token list."""
NodeKind = Literal["object", "attribute", "relation"]

STRUCTURAL_EDGE = 1.0
"""Similarity of a text edge that the caption's syntax states (an attribute of its object, a relation and its two
objects): without corpus statistics there is nothing to grade them by."""


@dataclass(frozen=True)
class TextObject:
    """A mentioned object: its noun as written ("circles", "plus sign") and the noun's token span."""

    name: str
    span: Span


@dataclass(frozen=True)
class TextAttribute:
    """An attribute word of object `object` (an index into `TextGraph.objects`), as written, and its token span."""

    object: int
    name: str
    span: Span


@dataclass(frozen=True)
class TextRelation:
    """A relation from object `subject` to object `object` (indices into `TextGraph.objects`), its phrase as
    written ("to the left of") and the phrase's token span."""

    subject: int
    object: int
    predicate: str
    span: Span


@dataclass(frozen=True)
class TextGraph:
    """The scene graph of one caption.

    Attributes:
        tokens: the caption's words, which every span indexes.
        objects: mentioned objects.
        attributes: attribute words, each of one object.
        relations: relations between two objects.
    """

    tokens: tuple[str, ...]
    objects: tuple[TextObject, ...] = ()
    attributes: tuple[TextAttribute, ...] = ()
    relations: tuple[TextRelation, ...] = ()

    def __post_init__(self) -> None:
        num_objects = len(self.objects)
        for attribute in self.attributes:
            if not 0 <= attribute.object < num_objects:
                raise ValueError(f"attribute {attribute} refers to a missing object")
        for relation in self.relations:
            if not (0 <= relation.subject < num_objects and 0 <= relation.object < num_objects):
                raise ValueError(f"relation {relation} refers to a missing object")

    @property
    def num_nodes(self) -> int:
        """Objects, attributes and relations together."""
        return len(self.objects) + len(self.attributes) + len(self.relations)

    def node_kinds(self) -> list[NodeKind]:
        """The kind of every node, in node order."""
        return (
            ["object"] * len(self.objects) + ["attribute"] * len(self.attributes) + ["relation"] * len(self.relations)
        )

    def node_spans(self) -> list[Span]:
        """The token span of every node, in node order."""
        return [node.span for node in (*self.objects, *self.attributes, *self.relations)]

    def node_names(self) -> list[str]:
        """The words of every node (object nouns, attribute words, relation phrases), in node order."""
        return (
            [o.name for o in self.objects] + [a.name for a in self.attributes] + [r.predicate for r in self.relations]
        )

    def adjacency(self) -> Tensor:
        """Float[N, N] symmetric edge weights between the nodes: each attribute to its object, each relation to its
        subject and object, and the two objects of a relation to each other (an object's neighbours are part of its
        context), all `STRUCTURAL_EDGE`; zero elsewhere, the diagonal included."""
        size = self.num_nodes
        weights = torch.zeros(size, size)
        first_attribute = len(self.objects)
        first_relation = first_attribute + len(self.attributes)
        pairs = [(a.object, first_attribute + k) for k, a in enumerate(self.attributes)]
        for k, relation in enumerate(self.relations):
            node = first_relation + k
            pairs += [(relation.subject, node), (relation.object, node), (relation.subject, relation.object)]
        for i, j in pairs:
            if i != j:
                weights[i, j] = weights[j, i] = STRUCTURAL_EDGE
        return weights


@dataclass(frozen=True, eq=False)
class ImageGraph:
    """The scene graph of one image's regions.

    Attributes:
        boxes: Float[K, 4] pixel boxes x1, y1, x2, y2.
        tags: the detector's label name of each region.
        attributes: the detector's attribute names of each region (may be empty).
        edges: Float[K, K] symmetric, the IoU of two regions where it exceeds the graph's threshold, else 0.
    """

    boxes: Tensor
    tags: tuple[str, ...]
    attributes: tuple[tuple[str, ...], ...]
    edges: Tensor

    @property
    def num_regions(self) -> int:
        return len(self.tags)


@dataclass(frozen=True, eq=False)
class UnifiedGraph:
    """A caption's and an image's graphs with the edges between and within them.

    Attributes:
        text: the caption's graph, T = `text.num_nodes` nodes.
        image: the image's graph, R = `image.num_regions` nodes.
        text_edges: Float[T, T] intra-modal similarities of the text nodes.
        image_edges: Float[R, R] intra-modal similarities of the regions (their IoU).
        cross_edges: Float[T, R] tag-word similarity of a text object to a region where it reaches the threshold,
            else 0; rows of attribute and relation nodes are 0.
    """

    text: TextGraph
    image: ImageGraph
    text_edges: Tensor
    image_edges: Tensor
    cross_edges: Tensor

    def text_object_mask(self) -> Tensor:
        """Bool[T], True at the text graph's object nodes."""
        mask = torch.zeros(self.text.num_nodes, dtype=torch.bool)
        mask[: len(self.text.objects)] = True
        return mask


def token_spans(word_spans: Sequence[Span], word_ids: Sequence[int | None]) -> list[Span]:
    """Maps word spans to spans of a subword tokenisation.

    Args:
        word_spans: [start, end) word indices, e.g. `TextGraph.node_spans()`.
        word_ids: the word index of every token of the tokenised input, None for special tokens and other segments
            (what a Hugging Face fast tokenizer's `encoding.word_ids()` gives for the caption segment).

    Returns:
        The [start, end) token span of each word span; (0, 0) where truncation dropped all of its words.
    """
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for position, word in enumerate(word_ids):
        if word is not None:
            first.setdefault(word, position)
            last[word] = position
    spans = []
    for start, end in word_spans:
        kept = [w for w in range(start, end) if w in first]
        spans.append((first[kept[0]], last[kept[-1]] + 1) if kept else (0, 0))
    return spans
