"""`EpochEndReport`: `vlp.pretrain.MetricsReport`'s line per epoch, printed once the LightningModule has logged the
metrics it computes at the end of the validation epoch."""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer

from vlp.pretrain import MetricsReport


class EpochEndReport(MetricsReport):
    """Prints the epoch's metrics after validation ends rather than in `on_validation_epoch_end`.

    Lightning runs callbacks' `on_validation_epoch_end` before the LightningModule's, where a finetuning module
    computes its torchmetrics (`val/vqa_acc`); printed from there, they would be the previous epoch's.

    Args:
        stages: metric prefixes to show, in order.
    """

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Nothing yet: the module has not computed its epoch metrics."""

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_validation_epoch_end(trainer, pl_module)
