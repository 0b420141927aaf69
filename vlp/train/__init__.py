"""The training layer every task shares (pretraining, VQA, captioning, retrieval): optimizer groups and schedules,
initial weights from vlp / HF BERT / Oscar / UNITER checkpoints, the end-of-fit metrics report, whole-run progress and
`torch.compile`.

It imports no task."""

from vlp.train.compile import CompileModel
from vlp.train.init import InitFormat, load_initial_weights
from vlp.train.optim import OptimizerSettings, lightning_optimizers
from vlp.train.progress import RunProgress
from vlp.train.report import MetricsReport

__all__ = [
    "CompileModel",
    "InitFormat",
    "MetricsReport",
    "OptimizerSettings",
    "RunProgress",
    "lightning_optimizers",
    "load_initial_weights",
]
