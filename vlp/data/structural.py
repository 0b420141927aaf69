"""ROSITA's structural knowledge masking for one example: its caption's scene graph joined with its image's regions."""

from __future__ import annotations

import torch

from vlp.data.corruption import Corruption
from vlp.data.dataset import PretrainItem
from vlp.data.tokenizer import EncodedPair
from vlp.objectives.skm import sample_skm_masks
from vlp.scene_graph import build_image_graph, parse_caption, text_graph_from_gold, token_spans, unify


def structural_masks(
    item: PretrainItem, encoded: EncodedPair, corruption: Corruption, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """SKM's token and region masks of one example, or None where its graph gives nothing to mask.

    The text graph is the corpus's gold graph when it has one, else the rule-based parse of the caption with the
    image's tags and attributes as known nouns and adjectives. Node spans in words become spans of the encoded
    sequence's positions.

    Returns:
        Bool[T] over `encoded`'s positions and Bool[K] over the item's regions, or None (fall back to random masking).
    """
    if item.graph is not None:
        text_graph = text_graph_from_gold(item.graph)
    else:
        attributes = sorted({name for names in item.attributes or () for name in names})
        text_graph = parse_caption(item.words, sorted(set(item.tags)), attributes)
    if text_graph.num_nodes == 0 or not item.tags:
        return None
    image_graph = build_image_graph(
        torch.from_numpy(item.boxes), item.tags, item.attributes, corruption.graph_iou_threshold
    )
    graph = unify(text_graph, image_graph, corruption.graph_similarity_threshold)
    spans = token_spans(text_graph.node_spans(), encoded.word_ids)
    return sample_skm_masks(
        graph,
        len(encoded.input_ids),
        len(item.tags),
        spans,
        anchor_probability=corruption.anchor_probability,
        alpha=corruption.structural_alpha,
        generator=generator,
    )
