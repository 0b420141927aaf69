"""`MetricsReport`: one line per epoch with every objective's loss and accuracy, and at the end of fitting how each
moved, for people watching a run."""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


class MetricsReport(Callback):
    """Prints, at the end of each training epoch, that epoch's mean training metrics and the latest validation
    metrics (process 0 only).

    It prints from `on_train_epoch_end`, the first hook where both are final: validation has run (and the
    LightningModule has computed its epoch metrics, e.g. torchmetrics), and Lightning has reduced the metrics logged
    `on_epoch` over the epoch. Earlier hooks would still see the previous epoch's training means.

    At the end of fitting it prints, for every metric of the last stage (validation by default), its first and last
    epoch's values and whether it improved: losses should fall and accuracies rise.

    Args:
        stages: metric prefixes to show, in order.
    """

    def __init__(self, stages: tuple[str, ...] = ("train", "val")) -> None:
        self.stages = stages
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.epochs = 0

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.first, self.last, self.epochs = {}, {}, 0

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        rank_zero_info(f"epoch {trainer.current_epoch} step {trainer.global_step}: {self.format(trainer)}")
        watched = {
            name: value for name, value in self.metrics(trainer).items() if name.startswith(f"{self.stages[-1]}/")
        }
        for name, value in watched.items():
            self.first.setdefault(name, value)
        self.last.update(watched)
        self.epochs += 1

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # After one epoch there is no trend to tell: its line above has the values.
        if self.last and self.epochs > 1:
            rank_zero_info(f"first -> last epoch: {self.trends()}")

    def trends(self) -> str:
        """Each watched metric's first and last value and its verdict, e.g. `val/loss 2.10 -> 1.50 falling`."""
        parts = []
        for name in sorted(self.last):
            before, after = self.first[name], self.last[name]
            lower_is_better = name.endswith("loss")
            improved = after < before if lower_is_better else after > before
            expected = "falling" if lower_is_better else "rising"
            verdict = expected if improved else f"NOT {expected}"
            parts.append(f"{name} {before:.3f} -> {after:.3f} {verdict}")
        return ", ".join(parts)

    @staticmethod
    def metrics(trainer: Trainer) -> dict[str, float]:
        """The epoch-level values of every logged metric."""
        # Metrics logged per step and per epoch appear as `name_step` and `name_epoch`; take the epoch mean.
        return {
            name.removesuffix("_epoch"): float(value)
            for name, value in trainer.callback_metrics.items()
            if not name.endswith("_step") and f"{name}_epoch" not in trainer.callback_metrics
        }

    def format(self, trainer: Trainer) -> str:
        """The epoch-level metrics of `stages`, e.g. `train/loss 1.234 | val/loss 1.456 val/acc 0.500`."""
        metrics = self.metrics(trainer)
        parts = []
        for stage in self.stages:
            names = sorted(name for name in metrics if name.startswith(f"{stage}/"))
            if names:
                parts.append(" ".join(f"{name} {metrics[name]:.3f}" for name in names))
        return " | ".join(parts)
