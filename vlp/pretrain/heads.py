"""The heads of a pretraining run: those of each active objective, named as checkpoints name them."""

from __future__ import annotations

from torch import nn

from vlp.model import VLConfig
from vlp.objectives.base import HeadSettings
from vlp.pretrain.objectives import BY_NAME


def build_heads(config: VLConfig, objectives: dict[str, float], settings: HeadSettings | None = None) -> nn.ModuleDict:
    """The heads of every active objective, in the order of `OBJECTIVES` (see each `Objective.heads`).

    Names follow `vlp.convert`: `mlm` (BERT's `cls.predictions`), `contrastive` (`cls.seq_relationship`), so that an
    Oscar export of the result carries them; `itm`, `mrfr`, `mrc`, `text_projection` and `image_projection` otherwise.

    Args:
        config: the model's config.
        objectives: the active objectives by name (`ObjectiveWeights.active`).
        settings: what heads need beyond the config (contrastive classes, region labels, embedding width).
    """
    settings = settings or HeadSettings()
    heads: dict[str, nn.Module] = {}
    for name in objectives:
        heads |= BY_NAME[name].heads(config, settings)
    return nn.ModuleDict(heads)
