"""`MetricsReport` prints each epoch's own training means next to that epoch's validation metrics."""

from __future__ import annotations

import logging

import torch
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset

from vlp.train import MetricsReport

STEPS = 4


class _Counting(LightningModule):
    """Logs the global step as `train/x` (epoch means 1.5, 5.5, ...) and 10 x the epoch as `val/y`."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.log("train/x", float(self.global_step), on_step=True, on_epoch=True)
        return (self.weight * batch[0]).sum()

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.log("val/y", 10.0 * self.current_epoch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit_and_read_log(module: LightningModule, epochs: int, caplog, tmp_path) -> list[str]:
    """Fits `module` with a `MetricsReport` on STEPS one-example batches per epoch; returns the logged lines."""
    data = DataLoader(TensorDataset(torch.ones(STEPS, 1)), batch_size=1)
    trainer = Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[MetricsReport()],
        default_root_dir=tmp_path,
    )
    with caplog.at_level(logging.INFO):
        trainer.fit(module, data, data)
    return [record.getMessage() for record in caplog.records]


def test_each_line_holds_its_own_epoch(caplog, tmp_path):
    lines = [line for line in fit_and_read_log(_Counting(), 2, caplog, tmp_path) if line.startswith("epoch ")]
    # Means of steps 0..3 and 4..7; before the fix the second line repeated the first epoch's training mean.
    assert lines == ["epoch 0 step 4: train/x 1.500 | val/y 0.000", "epoch 1 step 8: train/x 5.500 | val/y 10.000"]


def test_fit_end_tells_how_each_validation_metric_moved(caplog, tmp_path):
    lines = [line for line in fit_and_read_log(_Trending(), 3, caplog, tmp_path) if line.startswith("first -> last")]
    assert lines == [
        "first -> last epoch: val/a_acc 0.500 -> 0.300 NOT rising, val/a_loss 2.000 -> 1.000 falling, "
        "val/b_acc 0.100 -> 0.300 rising, val/b_loss 1.000 -> 1.000 NOT falling"
    ]


def test_a_single_epoch_has_no_trend_line(caplog, tmp_path):
    lines = fit_and_read_log(_Trending(), 1, caplog, tmp_path)
    assert any(line.startswith("epoch 0 ") for line in lines)
    assert not any(line.startswith("first -> last") for line in lines)


class _Trending(_Counting):
    """Logs validation metrics that move in known directions over epochs 0, 1, 2."""

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        epoch = self.current_epoch
        self.log_dict({"val/a_loss": [2.0, 1.5, 1.0][epoch], "val/a_acc": [0.5, 0.6, 0.3][epoch]})
        self.log_dict({"val/b_loss": 1.0, "val/b_acc": [0.1, 0.2, 0.3][epoch]})
