"""`RunProgress`: one bar over every step of the fit (epochs together), and one over a prediction run."""

from __future__ import annotations

import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.demos.boring_classes import BoringModel

from vlp.train import RunProgress


def trainer(tmp_path) -> Trainer:
    return Trainer(
        max_epochs=2,
        limit_train_batches=3,
        limit_val_batches=0,
        limit_predict_batches=4,
        callbacks=[RunProgress()],
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
        accelerator="cpu",
        default_root_dir=tmp_path,
    )


def test_one_bar_counts_every_step_of_every_epoch_and_one_each_prediction(tmp_path, capsys: pytest.CaptureFixture):
    fit = trainer(tmp_path)
    fit.fit(BoringModel())
    err = capsys.readouterr().err
    assert "fit: 100%" in err and "6/6" in err  # 2 epochs of 3 steps: one bar, not one per epoch
    assert "0/3" not in err
    fit.predict(BoringModel())
    err = capsys.readouterr().err
    assert "predict: 100%" in err and "4/4" in err
