"""Masked region modelling (UNITER MRM): zero some regions' features and recover them.

Two targets: the feature itself (MRFR, regression) and the detector's label (MRC: cross-entropy to the top class, or
MRC-kl: KL divergence to the detector's class distribution). `choose_masked_modality` implements conditional masking:
per example, mask the text or the regions, never both, so that one modality is always intact to recover the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vlp.model.config import VLConfig
from vlp.model.heads import MLPClassificationHead, TiedPredictionHead
from vlp.objectives.base import HeadSettings, MaskedPass, Objective
from vlp.objectives.draws import uniform
from vlp.objectives.output import ObjectiveOutput, classification_output, empty_output

if TYPE_CHECKING:
    from vlp.data.batch import PretrainBatch
    from vlp.model.model import VLModel


def sample_region_mask(
    region_mask: Tensor, probability: float = 0.15, generator: torch.Generator | None = None
) -> Tensor:
    """Selects each real region with `probability`, and one at random in examples where none was selected.

    The at-least-one rule is UNITER's: an example that enters MRM always has something to recover. It raises the
    per-region rate of an example with n regions to `probability + (1 - probability) ** n / n`.

    Args:
        region_mask: Bool[B, R], True at real regions, False at padding.
        probability: selection rate per region.
        generator: source of randomness.

    Returns:
        Bool[B, R], never True at padding; at least one True per example that has a region.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must lie in [0, 1], got {probability}")
    draws = uniform((2, *region_mask.shape), generator, region_mask.device)
    selected = region_mask & (draws[0] < probability)
    # A uniformly random real region of each example: the arg-max of independent uniform keys over the real ones.
    keys = draws[1].masked_fill(~region_mask, -1.0)
    fallback = torch.zeros_like(selected).scatter_(1, keys.argmax(dim=1, keepdim=True), True)
    needs_one = region_mask.any(dim=1, keepdim=True) & ~selected.any(dim=1, keepdim=True)
    return selected | (fallback & needs_one & region_mask)


def choose_masked_modality(
    batch_size: int, generator: torch.Generator | None = None, text_probability: float = 0.5
) -> Tensor:
    """Conditional masking: which modality each example masks.

    Args:
        batch_size: B.
        generator: source of randomness.
        text_probability: chance of masking the text (UNITER alternates evenly).

    Returns:
        Bool[B], True = mask this example's text, False = mask its regions.
    """
    return uniform((batch_size,), generator) < text_probability


def region_feature_regression_loss(predicted: Tensor, target: Tensor) -> ObjectiveOutput:
    """Masked region feature regression (MRFR): mean squared error over all elements, as UNITER.

    Args:
        predicted: [N, D], the head's output at the N masked regions.
        target: [N, D], the regions' original (unmasked) features; no gradient flows into them.

    Returns:
        MSE averaged over N * D elements, no accuracy, N.
    """
    if predicted.shape != target.shape or predicted.dim() != 2:
        raise ValueError(
            f"expected two [N, D] tensors of one shape, got {tuple(predicted.shape)}, {tuple(target.shape)}"
        )
    if predicted.shape[0] == 0:
        return empty_output(predicted)
    loss = F.mse_loss(predicted.float(), target.detach().float())
    return ObjectiveOutput(loss=loss, accuracy=None, count=predicted.shape[0])


def region_label_loss(logits: Tensor, target: Tensor) -> ObjectiveOutput:
    """Masked region classification against the detector's labels.

    Hard labels (MRC): cross-entropy to the class index. Soft labels (MRC-kl): KL(target || softmax(logits)) summed
    over classes and averaged over regions (UNITER averages the element-wise KL over N * C instead, which is the same
    up to the constant factor C).

    Args:
        logits: [N, C], the head's output at the N masked regions.
        target: Long[N] class indices, or Float[N, C] detector distributions (rows summing to 1).

    Returns:
        The loss, accuracy (arg-max against the index, or against the distribution's arg-max), N.
    """
    if not target.is_floating_point():
        return classification_output(logits, target)
    if target.shape != logits.shape or logits.dim() != 2:
        raise ValueError(f"soft targets must match logits [N, C], got {tuple(target.shape)}, {tuple(logits.shape)}")
    if logits.shape[0] == 0:
        return empty_output(logits)
    log_probabilities = F.log_softmax(logits.float(), dim=-1)
    loss = F.kl_div(log_probabilities, target.detach().float(), reduction="batchmean")
    accuracy = (logits.argmax(dim=-1) == target.argmax(dim=-1)).float().mean().detach()
    return ObjectiveOutput(loss=loss, accuracy=accuracy, count=logits.shape[0])


def _masked_states(output: MaskedPass) -> tuple[Tensor, Tensor]:
    """(Bool[B, R] masked regions, Float[M, H] their states) of a pass that masked regions."""
    if output.masked_regions is None:
        raise ValueError(
            "masked region modelling needs a pass with masked regions (corruption.region_mask_probability)"
        )
    return output.masked_regions, output.region_states[output.masked_regions]


class RegionFeatureRegression(Objective):
    """UNITER's masked region feature regression, through the transposed region projection."""

    name = "mrfr"
    description = "masked region feature regression (UNITER MRFR)"
    masks_regions = True

    def heads(self, config: VLConfig, settings: HeadSettings) -> dict[str, nn.Module]:
        head = TiedPredictionHead(
            config.hidden_size,
            config.region_feature_dim,
            config.hidden_act,
            config.layer_norm_eps,
            config.initializer_range,
        )
        return {"mrfr": head}

    def masked_loss(
        self, model: VLModel, heads: nn.ModuleDict, batch: PretrainBatch, output: MaskedPass
    ) -> ObjectiveOutput:
        masked, states = _masked_states(output)
        predicted = heads["mrfr"](states, model.region_feature_weight)
        return region_feature_regression_loss(predicted, batch.regions.features[masked])


class RegionClassification(Objective):
    """UNITER's masked region classification against the detector's labels."""

    name = "mrc"
    description = "masked region classification against the detector labels (UNITER MRC)"
    masks_regions = True

    def heads(self, config: VLConfig, settings: HeadSettings) -> dict[str, nn.Module]:
        if settings.num_region_labels < 1:
            raise ValueError("the mrc objective needs num_region_labels, the size of the region label vocabulary")
        # UNITER's region classifier: Linear(H, H), GELU, LayerNorm, Linear(H, labels).
        hidden = config.hidden_size
        head = MLPClassificationHead(
            hidden,
            settings.num_region_labels,
            inner_size=hidden,
            hidden_act="gelu",
            use_layer_norm=True,
            layer_norm_eps=config.layer_norm_eps,
            initializer_range=config.initializer_range,
        )
        return {"mrc": head}

    def masked_loss(
        self, model: VLModel, heads: nn.ModuleDict, batch: PretrainBatch, output: MaskedPass
    ) -> ObjectiveOutput:
        masked, states = _masked_states(output)
        return region_label_loss(heads["mrc"](states), batch.regions.labels[masked])
