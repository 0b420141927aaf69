"""Training in bf16-mixed follows training in fp32: the demo Oscar recipe (masked tokens, polluted-tag contrastive,
InfoNCE) at the demo's model size, the same seed and batches, 30 steps in each precision (Lightning's CPU autocast).

bf16 keeps 8 bits of mantissa, so single steps differ by about 0.4% of a value; the tolerances below were set from
runs on two CPUs (with and without bf16 units) with room to spare, not to the digit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lightning.pytorch import Callback

from tests.pretrain.test_configs import CONFIGS, data_tree
from vlp.cli.main import lightning_cli

__all__ = ["data_tree"]
STEPS = 30
# The first step's loss (the same weights and batch, forward only): relative difference at most this.
FIRST_STEP_TOLERANCE = 0.01
# The mean loss of the last ten steps, after 30 updates of drift: relative difference at most this.
LATE_TOLERANCE = 0.05


class LossRecorder(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.losses.append(float(outputs["loss"]))


def train_losses(precision: str, root: Path, accelerator: str = "cpu") -> list[float]:
    """The training loss of each of `STEPS` steps of the demo Oscar recipe (batch 16) in `precision`."""
    cli = lightning_cli(
        [
            "--config",
            str(CONFIGS / "demo_oscar.yaml"),
            f"--trainer.accelerator={accelerator}",
            f"--trainer.precision={precision}",
            f"--trainer.max_steps={STEPS}",
            "--trainer.limit_val_batches=0",
            "--trainer.logger=false",
            "--trainer.callbacks=[]",
            f"--trainer.default_root_dir={root}",
            "--data.init_args.loader.num_workers=0",
            "--data.init_args.loader.batch_size=16",
        ],
        run=False,
    )
    recorder = LossRecorder()
    cli.trainer.callbacks.append(recorder)
    cli.trainer.fit(cli.model, cli.datamodule)
    return recorder.losses


def check_close(fp32: list[float], bf16: list[float]) -> None:
    """The first step within `FIRST_STEP_TOLERANCE`, the late mean within `LATE_TOLERANCE`, and both learning."""
    assert len(fp32) == len(bf16) == STEPS
    assert abs(bf16[0] - fp32[0]) <= FIRST_STEP_TOLERANCE * fp32[0]
    late_fp32, late_bf16 = sum(fp32[-10:]) / 10, sum(bf16[-10:]) / 10
    assert abs(late_bf16 - late_fp32) <= LATE_TOLERANCE * late_fp32
    # Both learn. Slowly, in 30 steps: the masked-token loss falls, while the contrastive loss (weight 20) stays near
    # 0.69 for its first hundreds of steps; measured, the late mean was 4.5% below the first step.
    assert late_fp32 < fp32[0] and late_bf16 < bf16[0]


@pytest.mark.slow
def test_bf16_mixed_losses_stay_near_fp32(environment, tmp_path: Path):
    check_close(train_losses("32-true", tmp_path / "fp32"), train_losses("bf16-mixed", tmp_path / "bf16"))


@pytest.mark.slow
@pytest.mark.gpu
def test_bf16_mixed_losses_stay_near_fp32_on_cuda(environment, tmp_path: Path):
    fp32 = train_losses("32-true", tmp_path / "fp32", accelerator="gpu")
    check_close(fp32, train_losses("bf16-mixed", tmp_path / "bf16", accelerator="gpu"))
