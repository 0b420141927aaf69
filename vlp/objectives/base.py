"""What a pretraining objective declares so that `PretrainModule` can run it: its name, default weight, the heads it
puts on the model, and, for objectives that read the masked (and polluted) input, its loss on that forward pass.

An objective's file (`vlp/objectives/<name>.py`) holds its pure sampling and loss functions and, at its end, its
`Objective` subclass; `vlp.pretrain.objectives.OBJECTIVES` lists them, the one place a new objective is added. The
objective's weight then appears in `ObjectiveWeights`, its heads in `build_heads`, and its loss in the shared masked
forward pass (`vlp.pretrain.compute`) by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from torch import Tensor, nn

from vlp.model.config import VLConfig
from vlp.objectives.output import ObjectiveOutput

if TYPE_CHECKING:
    from vlp.data.batch import PretrainBatch
    from vlp.model.model import VLModel


@dataclass(frozen=True)
class HeadSettings:
    """What heads need beyond the model's config.

    Attributes:
        contrastive_classes: 2 (Oscar) or 3 (Oscar+) classes of the contrastive head.
        num_region_labels: classes of the region classifier (the detector's label vocabulary).
        embed_dim: width of the InfoNCE embeddings.
    """

    contrastive_classes: int = 2
    num_region_labels: int = 0
    embed_dim: int = 256


@dataclass(frozen=True)
class MaskedPass:
    """One forward pass over the masked (and polluted) input of a batch.

    Attributes:
        text_states: Float[B, T, H] final states of the text tokens.
        region_states: Float[B, R, H] final states of the regions.
        pooled: Float[B, H] the pooled output.
        masked_regions: Bool[B, R] the regions masked in this pass (real ones only), or None when none were.
    """

    text_states: Tensor
    region_states: Tensor
    pooled: Tensor
    masked_regions: Tensor | None


class Objective:
    """A pretraining objective as `PretrainModule` runs it.

    Attributes:
        name: its key in `ObjectiveWeights`, configs and logged metrics (`train/<name>_loss`).
        description: one line for `ObjectiveWeights`' documentation.
        default_weight: its weight when a config names none (only the masked token loss is on by default).
        reads_masked_input: its loss comes from the masked, polluted input's forward pass (`masked_loss`); the others
            (matching, InfoNCE) have passes of their own in `vlp.pretrain.compute`.
        masks_text: that pass masks tokens for it.
        masks_regions: that pass masks regions for it.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_weight: ClassVar[float] = 0.0
    reads_masked_input: ClassVar[bool] = True
    masks_text: ClassVar[bool] = False
    masks_regions: ClassVar[bool] = False

    def heads(self, config: VLConfig, settings: HeadSettings) -> dict[str, nn.Module]:
        """The heads the objective puts on the model, by the names checkpoints give them."""
        return {}

    def masked_loss(
        self, model: VLModel, heads: nn.ModuleDict, batch: PretrainBatch, output: MaskedPass
    ) -> ObjectiveOutput:
        """The loss on the masked input's forward pass (objectives with `reads_masked_input`)."""
        raise NotImplementedError(f"{self.name} has no loss on the masked input's pass")
