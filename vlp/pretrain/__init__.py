"""Pretraining: the LightningModule, its objective mixing and heads (the shared training layer is `vlp.train`)."""

from vlp.pretrain.mixing import ObjectiveWeights
from vlp.pretrain.module import PretrainModule

__all__ = ["ObjectiveWeights", "PretrainModule"]
