"""`MetricsReport`: one line per epoch with every objective's loss and accuracy, for people watching a run."""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


class MetricsReport(Callback):
    """Prints, at the end of each training epoch, that epoch's mean training metrics and the latest validation
    metrics (process 0 only).

    It prints from `on_train_epoch_end`, the first hook where both are final: validation has run (and the
    LightningModule has computed its epoch metrics, e.g. torchmetrics), and Lightning has reduced the metrics logged
    `on_epoch` over the epoch. Earlier hooks would still see the previous epoch's training means.

    Args:
        stages: metric prefixes to show, in order.
    """

    def __init__(self, stages: tuple[str, ...] = ("train", "val")) -> None:
        self.stages = stages

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        rank_zero_info(f"epoch {trainer.current_epoch} step {trainer.global_step}: {self.format(trainer)}")

    def format(self, trainer: Trainer) -> str:
        """The epoch-level metrics of `stages`, e.g. `train/loss 1.234 | val/loss 1.456 val/acc 0.500`."""
        # Metrics logged per step and per epoch appear as `name_step` and `name_epoch`; show the epoch mean.
        metrics = {
            name.removesuffix("_epoch"): float(value)
            for name, value in trainer.callback_metrics.items()
            if not name.endswith("_step") and f"{name}_epoch" not in trainer.callback_metrics
        }
        parts = []
        for stage in self.stages:
            names = sorted(name for name in metrics if name.startswith(f"{stage}/"))
            if names:
                parts.append(" ".join(f"{name} {metrics[name]:.3f}" for name in names))
        return " | ".join(parts)
