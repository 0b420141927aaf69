"""Pretraining: the LightningModule, its objective mixing, heads and optimizer schedule."""

from vlp.pretrain.mixing import ObjectiveWeights
from vlp.pretrain.module import PretrainModule
from vlp.pretrain.optim import OptimizerSettings
from vlp.pretrain.report import MetricsReport

__all__ = ["MetricsReport", "ObjectiveWeights", "OptimizerSettings", "PretrainModule"]
