"""`RunProgress`: one progress bar over a whole fit (every step of every epoch) with the time left, and one over each
prediction run, where Lightning's own bars restart every epoch and so cannot say when the run ends."""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from tqdm import tqdm

# Seconds between bar updates when the output is a log file rather than a terminal: a line per update there.
LOG_INTERVAL_S = 30.0


def _bar(total: int | float, description: str) -> tqdm:
    terminal = sys.stderr.isatty()
    return tqdm(
        total=total if total != float("inf") else None,
        desc=description,
        unit="step",
        dynamic_ncols=True,
        mininterval=0.5 if terminal else LOG_INTERVAL_S,
        file=sys.stderr,
        leave=True,
    )


class RunProgress(Callback):
    """Progress of the whole fit (`trainer.estimated_stepping_batches` steps) and of each prediction, on process 0.

    Use it with `trainer.enable_progress_bar: false`, so that Lightning's per-epoch bars do not print beside it.
    """

    def __init__(self) -> None:
        self._bar: tqdm | None = None

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            self._bar = _bar(trainer.estimated_stepping_batches, "fit")
            self._bar.update(trainer.global_step)  # a resumed fit starts part of the way

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if self._bar is not None and trainer.global_step > self._bar.n:
            loss = trainer.callback_metrics.get("train/loss_step", trainer.callback_metrics.get("train/loss"))
            if loss is not None:
                self._bar.set_postfix(epoch=trainer.current_epoch, loss=f"{float(loss):.3f}", refresh=False)
            self._bar.update(trainer.global_step - self._bar.n)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._close()

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero:
            self._bar = _bar(sum(trainer.num_predict_batches), "predict")

    def on_predict_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._close()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
