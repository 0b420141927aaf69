"""`MetricsReport`: one line per epoch with every objective's loss and accuracy, for people watching a run."""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


class MetricsReport(Callback):
    """Prints, after each validation, the epoch's training and validation losses and accuracies (process 0 only).

    Args:
        stages: metric prefixes to show, in order.
    """

    def __init__(self, stages: tuple[str, ...] = ("train", "val")) -> None:
        self.stages = stages

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
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
        rank_zero_info(f"epoch {trainer.current_epoch} step {trainer.global_step}: " + " | ".join(parts))
