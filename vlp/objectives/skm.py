"""Structural knowledge masking (ROSITA SKM): mask an anchor object together with the context that would give it away.

Given a pair's unified scene graph (`vlp.scene_graph`), each object node (caption object or region) becomes an anchor
with `anchor_probability`, and node j is masked with probability (ROSITA's Eq. 7):

- 1 if j is an anchor;
- `alpha * t_j` if j is in an anchor's intra-modal context: an attribute, relation or related object of a caption
  anchor (t_j = 1, the edge the caption's syntax states), or a region overlapping a region anchor (t_j = their IoU);
- `(1 - alpha) * (1 - t_j)` if j is in an anchor's cross-modal context: a region whose tag matches a caption anchor,
  or a caption object matching a region anchor (t_j = the tag-word similarity, at least 0.5).

So the anchor's own-modality context is hidden while its aligned counterpart in the other modality stays visible (an
exact match, t_j = 1, is never masked), and the model has to recover the anchor through the cross-modal alignment.

The formula leaves open what t_j is for each kind of edge and how often anchors are drawn; vlp settles that: t_j is
the edge's similarity (IoU for regions overlapping by more than 0.2, tag-word similarity of at least 0.5 across
modalities) and anchors are drawn with probability 0.3. Further choices where the paper leaves room, documented here
once:

- A node reached several ways (context of two anchors, or intra- and cross-modal context at once) takes the largest
  of its probabilities, not their union `1 - prod(1 - p)`: the union would grow with a node's degree and mask the
  aligned counterparts the rule means to keep visible. An anchor is always masked.
- Anchors are drawn from both modalities' object nodes; attribute and relation nodes are only ever context.
- If the independent draws pick no anchor, one candidate is picked uniformly (as UNITER guarantees one masked region),
  so every pair with a usable graph is masked structurally; an object's anchor rate is then
  `p + (1 - p) ** n / n` for n candidates. `sample_skm_masks` returns None, and the caller falls back to random
  masking, only when no object node is present in the input at all.
- `alpha` defaults to 0.5. The ROSITA paper defines alpha as a hyper-parameter without a value here, and the released
  code (MILVLG/rosita) has no single alpha: it uses hand-tuned per-context probabilities instead. 0.5 weighs the two
  kinds of context equally; change it through the argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from vlp.objectives.draws import uniform
from vlp.scene_graph.graph import Span, UnifiedGraph

ANCHOR_PROBABILITY = 0.3
DEFAULT_ALPHA = 0.5


@dataclass
class SKMProbabilities:
    """Masking probability of every node of a unified graph.

    Attributes:
        text: Float[T_nodes], in `TextGraph` node order (objects, attributes, relations).
        regions: Float[R_nodes], in region order.
    """

    text: Tensor
    regions: Tensor


def _draw_anchors(candidates: Tensor, probability: float, generator: torch.Generator | None) -> Tensor:
    """Each candidate with `probability`; one uniformly random candidate if that picks none. Bool like `candidates`."""
    draws = uniform((2, candidates.numel()), generator)
    anchors = candidates & (draws[0] < probability)
    if candidates.any() and not anchors.any():
        anchors[draws[1].masked_fill(~candidates, -1.0).argmax()] = True
    return anchors


def _largest_over(values: Tensor, rows: Tensor) -> Tensor:
    """Column-wise maximum of `values[rows]`; zeros when no row is selected."""
    picked = values[rows]
    return picked.amax(dim=0) if picked.shape[0] else values.new_zeros(values.shape[1])


def skm_node_probabilities(
    graph: UnifiedGraph,
    anchor_probability: float = ANCHOR_PROBABILITY,
    alpha: float = DEFAULT_ALPHA,
    generator: torch.Generator | None = None,
    anchors: tuple[Tensor, Tensor] | None = None,
) -> SKMProbabilities:
    """Draws anchors and gives every node its masking probability by the rule above.

    Args:
        graph: the pair's unified graph.
        anchor_probability: chance that an object node is an anchor.
        alpha: weight of intra-modal against cross-modal context, in [0, 1].
        generator: source of randomness.
        anchors: optional (Bool[T_nodes], Bool[R_nodes]) anchors to use instead of drawing them; text anchors must
            be object nodes.

    Returns:
        The probabilities; all zero when the graph has no object node.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    text_objects = graph.text_object_mask()
    num_text, num_regions = graph.text.num_nodes, graph.image.num_regions
    if anchors is None:
        candidates = torch.cat([text_objects, torch.ones(num_regions, dtype=torch.bool)])
        drawn = _draw_anchors(candidates, anchor_probability, generator)
        anchors = drawn[:num_text], drawn[num_text:]
    text_anchors, region_anchors = anchors
    if text_anchors.shape != (num_text,) or region_anchors.shape != (num_regions,):
        raise ValueError(f"anchors must have shapes ({num_text},) and ({num_regions},)")
    if (text_anchors & ~text_objects).any():
        raise ValueError("only object nodes can be anchors")

    cross = graph.cross_edges
    cross_context = torch.where(cross > 0, (1 - alpha) * (1 - cross), torch.zeros_like(cross))  # [T, R]
    text = torch.maximum(
        _largest_over(alpha * graph.text_edges, text_anchors), _largest_over(cross_context.t(), region_anchors)
    )
    regions = torch.maximum(
        _largest_over(alpha * graph.image_edges, region_anchors), _largest_over(cross_context, text_anchors)
    )
    text[text_anchors] = 1.0
    regions[region_anchors] = 1.0
    return SKMProbabilities(text=text, regions=regions)


def sample_skm_masks(
    graph: UnifiedGraph,
    num_tokens: int,
    num_regions: int,
    token_spans: Sequence[Span],
    anchor_probability: float = ANCHOR_PROBABILITY,
    alpha: float = DEFAULT_ALPHA,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor] | None:
    """Samples which tokens and regions of a pair to mask, by structural knowledge masking.

    Only nodes present in the input can be anchors: text nodes whose token span starts before `num_tokens`
    (truncation may drop others) and regions before `num_regions`.

    Args:
        graph: the pair's unified graph.
        num_tokens: length of the token sequence the spans index.
        num_regions: number of regions in the input, in the image graph's order.
        token_spans: the [start, end) token span of every text node in the tokenised input, in node order
            (`vlp.scene_graph.token_spans` maps word spans to subword spans).
        anchor_probability: chance that an object node is an anchor.
        alpha: weight of intra-modal against cross-modal context.
        generator: source of randomness.

    Returns:
        Bool[num_tokens] and Bool[num_regions] masks (every token of a masked node is masked; masked tokens go
        through `apply_token_mask`'s 80/10/10), or None when no object node is present (fall back to random masking).
    """
    num_text, graph_regions = graph.text.num_nodes, graph.image.num_regions
    if len(token_spans) != num_text:
        raise ValueError(f"got {len(token_spans)} token spans for {num_text} text nodes")
    text_present = torch.tensor([start < min(end, num_tokens) for start, end in token_spans], dtype=torch.bool)
    regions_present = torch.arange(graph_regions) < num_regions
    candidates = torch.cat([graph.text_object_mask() & text_present, regions_present])
    if not candidates.any():
        return None
    anchors = _draw_anchors(candidates, anchor_probability, generator)
    probabilities = skm_node_probabilities(graph, alpha=alpha, anchors=(anchors[:num_text], anchors[num_text:]))
    draws = uniform((num_text + graph_regions,), generator)
    text_chosen = (draws[:num_text] < probabilities.text) & text_present
    regions_chosen = (draws[num_text:] < probabilities.regions) & regions_present

    token_mask = torch.zeros(num_tokens, dtype=torch.bool)
    for (start, end), chosen in zip(token_spans, text_chosen.tolist(), strict=True):
        if chosen:
            token_mask[start : min(end, num_tokens)] = True
    region_mask = torch.zeros(num_regions, dtype=torch.bool)
    kept = min(num_regions, graph_regions)
    region_mask[:kept] = regions_chosen[:kept]
    return token_mask, region_mask
