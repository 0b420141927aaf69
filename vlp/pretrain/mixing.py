"""Which objectives a pretraining step computes, and with what weight."""

from __future__ import annotations

from dataclasses import field, fields, make_dataclass
from typing import Literal

import torch

from vlp.pretrain.objectives import OBJECTIVES

Mixing = Literal["all", "sample"]
"""`all`: every objective on every batch, losses summed with their weights (Oscar). `sample`: one objective per batch,
drawn with probability proportional to its weight, its loss taken as it is (UNITER's task sampling by mix ratio)."""


class _Weights:
    """The behaviour of `ObjectiveWeights`; its fields come from `OBJECTIVES`."""

    def __post_init__(self) -> None:
        negative = [f.name for f in fields(self) if getattr(self, f.name) < 0]  # type: ignore[arg-type]
        if negative:
            raise ValueError(f"objective weights must not be negative: {', '.join(negative)}")
        if not self.active:
            raise ValueError("give at least one objective a positive weight")

    @property
    def active(self) -> dict[str, float]:
        """The objectives with a positive weight, in the order of `OBJECTIVES`."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) > 0}  # type: ignore[arg-type]


ObjectiveWeights = make_dataclass(
    "ObjectiveWeights",
    [(objective.name, float, field(default=objective.default_weight)) for objective in OBJECTIVES],
    bases=(_Weights,),
    frozen=True,
)
ObjectiveWeights.__module__ = __name__  # make_dataclass's `module` argument needs Python 3.12
ObjectiveWeights.__doc__ = "A weight per pretraining objective; 0 leaves an objective (and its head) out.\n\n" + (
    "Attributes:\n" + "".join(f"    {o.name}: {o.description}.\n" for o in OBJECTIVES)
)


def sample_objective(weights: _Weights, generator: torch.Generator) -> str:
    """One active objective, drawn with probability proportional to its weight."""
    names = list(weights.active)
    probabilities = torch.tensor([weights.active[name] for name in names], dtype=torch.float64)
    return names[int(torch.multinomial(probabilities, 1, generator=generator))]
