"""Ranking a gallery in one of three modes, each fold on its own.

- `exact`: the cross-encoder scores every image-caption pair of the fold (Oscar).
- `fast`: the embeddings shortlist each image's top k captions and each caption's top k images; the cross-encoder
  scores only those pairs (LAVIS' ALBEF and BLIP evaluation). Each query ranks every scored pair it is part of by the
  cross-encoder (its own shortlist and the queries of the other direction that shortlisted it, which costs nothing
  more), ahead of the rest, which keep the embeddings' order.
- `embedding`: the embeddings' cosine similarity alone (CLIP).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from finetune.retrieval.batch import CaptionTokens, ImageSide
from finetune.retrieval.pairs import pair_inputs
from vlp.metrics.retrieval import rank_candidates
from vlp.model import VLModel, in_float32

EvaluationMode = Literal["exact", "fast", "embedding"]
MODES = ("exact", "fast", "embedding")
RANKED = 10  # the candidates kept per query: Recall@10 and the results file need ten


def matching_scores(logits: Tensor) -> Tensor:
    """Float[P] the log-odds of "matched" from the matching head's [P, 2] logits (label 1 matched): the ranking of
    Oscar's softmax probability, without its saturation."""
    logits = logits.float()
    return logits[:, 1] - logits[:, 0]


@dataclass
class PairScorer:
    """Scores image-caption pairs with the cross-encoder, a bounded number of pairs per forward pass.

    Attributes:
        model: the transformer.
        head: the matching head (`itm`, [P, H] -> [P, 2]).
        max_tokens: the text budget of a pair.
        sep_id: the `[SEP]` id.
        tags: whether pairs carry their image's tags.
        batch_size: the most pairs per forward pass.
    """

    model: VLModel
    head: nn.Module
    max_tokens: int
    sep_id: int
    tags: bool
    batch_size: int = 256

    def logits(self, captions: CaptionTokens, images: ImageSide) -> Tensor:
        """[P, 2] the matching head's logits of caption p with image p (one pass, with gradient where enabled)."""
        text, positions, regions = pair_inputs(captions, images, self.max_tokens, self.sep_id, self.tags)
        return in_float32(self.head, self.model(text, regions, position_ids=positions).pooled_output)

    @torch.no_grad()
    def __call__(self, captions: CaptionTokens, images: ImageSide, caption_rows: Tensor, image_rows: Tensor) -> Tensor:
        """Float[P] the scores (`matching_scores`) of pairs p: `captions[caption_rows[p]]`, `images[image_rows[p]]`."""
        scores = [
            matching_scores(
                self.logits(
                    captions.rows(caption_rows[start : start + self.batch_size]),
                    images.rows(image_rows[start : start + self.batch_size]),
                )
            )
            for start in range(0, caption_rows.shape[0], self.batch_size)
        ]
        return torch.cat(scores) if scores else torch.zeros(0, device=caption_rows.device)


def shortlists(similarity: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Each image's top-k captions, Long[I, k], and each caption's top-k images, Long[T, k], by `similarity` [I, T]."""
    return rank_candidates(similarity, k), rank_candidates(similarity.t(), k)


def shortlisted_pairs(image_to_text: Tensor, text_to_image: Tensor) -> Tensor:
    """Bool[I, T] the pairs either direction's shortlist holds: the pairs the fast mode scores."""
    images, texts = image_to_text.shape[0], text_to_image.shape[0]
    pairs = torch.zeros(images, texts, dtype=torch.bool, device=image_to_text.device)
    pairs.scatter_(1, image_to_text, True)
    pairs.t().scatter_(1, text_to_image, True)
    return pairs


def rank_fold(
    mode: EvaluationMode, similarity: Tensor | None, scores: Tensor | None, shortlist: int
) -> tuple[Tensor, Tensor]:
    """The top `RANKED` captions of each image, Long[I, 10], and images of each caption, Long[T, 10], of a fold.

    Args:
        mode: see the module docstring.
        similarity: [I, T] the embeddings' cosine similarities (fast, embedding).
        scores: [I, T] the cross-encoder's scores (exact: every pair; fast: at least the shortlisted pairs).
        shortlist: fast: k, the candidates per query the cross-encoder re-ranks.
    """
    if mode == "embedding":
        assert similarity is not None
        return rank_candidates(similarity, RANKED), rank_candidates(similarity.t(), RANKED)
    assert scores is not None
    if mode == "exact":
        return rank_candidates(scores, RANKED), rank_candidates(scores.t(), RANKED)
    assert similarity is not None
    # Every pair either shortlist holds was scored: each query ranks all of its scored pairs by the cross-encoder
    # (its own top k and the queries of the other direction that shortlisted it), then the rest by the embeddings.
    scored = torch.where(shortlisted_pairs(*shortlists(similarity, shortlist)), scores, float("-inf"))
    return (
        rank_candidates(scored, RANKED, fallback=similarity),
        rank_candidates(scored.t(), RANKED, fallback=similarity.t()),
    )
