"""Pretraining objectives, one per module: masking and sampling as pure functions, losses with documented shapes.

Objectives never log and never read a global step; the pretraining LightningModule composes them, passes schedules in
and logs their `ObjectiveOutput`.
"""

from vlp.objectives.infonce import LogitScale, info_nce_loss
from vlp.objectives.itm import itm_loss, sample_itm_pairs
from vlp.objectives.masked_regions import (
    choose_masked_modality,
    region_feature_regression_loss,
    region_label_loss,
    sample_region_mask,
)
from vlp.objectives.masked_tokens import apply_token_mask, masked_token_loss, sample_token_mask
from vlp.objectives.oscar_contrastive import contrastive_loss, pick_replacements, sample_pollution
from vlp.objectives.output import IGNORE_INDEX, ObjectiveOutput
from vlp.objectives.skm import SKMProbabilities, sample_skm_masks, skm_node_probabilities

__all__ = [
    "IGNORE_INDEX",
    "LogitScale",
    "ObjectiveOutput",
    "SKMProbabilities",
    "apply_token_mask",
    "choose_masked_modality",
    "contrastive_loss",
    "info_nce_loss",
    "itm_loss",
    "masked_token_loss",
    "pick_replacements",
    "region_feature_regression_loss",
    "region_label_loss",
    "sample_itm_pairs",
    "sample_pollution",
    "sample_region_mask",
    "sample_skm_masks",
    "sample_token_mask",
    "skm_node_probabilities",
]
