"""Image-text retrieval's Recall@K in both directions and their sum (RSUM), as the papers report them.

A query is a hit at K when any of its true candidates is among its top K: an image's five captions, a caption's one
image. The recall is the share of hits, in percent. The counting is torchmetrics' `RetrievalHitRate` (one per K and
direction), fed each query's top candidates in rank order, so that its states synchronise across processes and any
process's share of the queries gives the same numbers as one process holding them all.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.retrieval import RetrievalHitRate

KS = (1, 5, 10)
DIRECTIONS = ("image_to_text", "text_to_image")


def rank_candidates(scores: Tensor, k: int, fallback: Tensor | None = None) -> Tensor:
    """Long[Q, min(k, N)] each query's best `k` candidates, best first.

    Ties are broken by `fallback` (higher first), then by the lower candidate index, so that the ranking depends on
    the scores alone and never on the sort's implementation.

    Args:
        scores: [Q, N] candidate scores, higher better; -inf for a candidate that is not ranked by them.
        k: how many to keep.
        fallback: optional [Q, N] second key (e.g. the embedding similarity that orders the candidates a shortlist
            left unscored).
    """
    order = torch.arange(scores.shape[1], device=scores.device).expand_as(scores)
    if fallback is not None:
        order = torch.sort(fallback, dim=1, descending=True, stable=True).indices
    ranked = torch.sort(scores.gather(1, order), dim=1, descending=True, stable=True).indices
    return order.gather(1, ranked)[:, :k]


class RetrievalRecall(nn.Module):
    """Recall@K of both directions (`image_to_text/R@1`, ..., `text_to_image/R@10`) and `rsum`, in percent.

    Args:
        ks: the cut-offs (1, 5 and 10 in every paper).
    """

    def __init__(self, ks: Sequence[int] = KS) -> None:
        super().__init__()
        self.ks = tuple(ks)
        self.directions = nn.ModuleDict(
            {
                direction: MetricCollection({f"R@{k}": RetrievalHitRate(top_k=k) for k in self.ks})
                for direction in DIRECTIONS
            }
        )

    def update(self, direction: str, hits: Tensor, queries: Tensor) -> None:
        """Adds ranked queries.

        Args:
            direction: "image_to_text" or "text_to_image".
            hits: Bool[Q, K] whether each query's candidate at each rank (best first) is a true one; K is at least
                max(ks) unless the query has fewer candidates.
            queries: Long[Q] the queries' ids, unique over every update and process until `reset`.
        """
        if direction not in self.directions:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        if hits.shape[0] == 0:
            return
        # A list shorter than the largest K (a gallery of fewer candidates) misses beyond its end.
        hits = torch.nn.functional.pad(hits, (0, max(0, max(self.ks) - hits.shape[1])), value=False)
        ranks = torch.arange(hits.shape[1], 0, -1, device=hits.device, dtype=torch.float).expand(hits.shape)
        self.directions[direction].update(
            ranks.flatten(), hits.flatten(), indexes=queries[:, None].expand(hits.shape).flatten()
        )

    def compute(self) -> dict[str, float]:
        """The recalls in percent by `direction/R@k`, and `rsum`, their sum."""
        values = {
            f"{direction}/{name}": 100.0 * float(value)
            for direction, collection in self.directions.items()
            for name, value in collection.compute().items()
        }
        return values | {"rsum": sum(values.values())}

    def reset(self) -> None:
        for collection in self.directions.values():
            collection.reset()


def average(results: Sequence[dict[str, float]]) -> dict[str, float]:
    """The mean of several folds' results, key by key (COCO's 1K test: the mean over five folds)."""
    return {key: sum(result[key] for result in results) / len(results) for key in results[0]}
