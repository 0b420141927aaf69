"""Which objectives a pretraining step computes, and with what weight."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import torch

Mixing = Literal["all", "sample"]
"""`all`: every objective on every batch, losses summed with their weights (Oscar). `sample`: one objective per batch,
drawn with probability proportional to its weight, its loss taken as it is (UNITER's task sampling by mix ratio)."""


@dataclass(frozen=True)
class ObjectiveWeights:
    """A weight per pretraining objective; 0 leaves an objective (and its head) out.

    Attributes:
        mlm: masked token loss over words and tags (Oscar MTL, BERT MLM).
        contrastive: Oscar's 2-way or Oscar+'s 3-way contrastive loss on the pooled `[CLS]`.
        itm: image-text matching (UNITER ITM).
        mrfr: masked region feature regression (UNITER MRFR).
        mrc: masked region classification against the detector labels (UNITER MRC).
        infonce: in-batch contrastive loss of text-only and image-only embeddings (CLIP-style).
    """

    mlm: float = 1.0
    contrastive: float = 0.0
    itm: float = 0.0
    mrfr: float = 0.0
    mrc: float = 0.0
    infonce: float = 0.0

    def __post_init__(self) -> None:
        negative = [f.name for f in fields(self) if getattr(self, f.name) < 0]
        if negative:
            raise ValueError(f"objective weights must not be negative: {', '.join(negative)}")
        if not self.active:
            raise ValueError("give at least one objective a positive weight")

    @property
    def active(self) -> dict[str, float]:
        """The objectives with a positive weight, in field order."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) > 0}


def sample_objective(weights: ObjectiveWeights, generator: torch.Generator) -> str:
    """One active objective, drawn with probability proportional to its weight."""
    names = list(weights.active)
    probabilities = torch.tensor([weights.active[name] for name in names], dtype=torch.float64)
    return names[int(torch.multinomial(probabilities, 1, generator=generator))]
