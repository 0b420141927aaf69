"""FSDP (`--trainer.strategy fsdp`) for finetuning: each task's full-size config, with the small model, fits in its
bf16-mixed precision, saves a checkpoint and resumes from it. Lightning runs FSDP on CUDA only, so these are
GPU-marked (`scripts/gpu-checks` runs them where a GPU exists); the pretraining twin is
`tests/pretrain/test_fsdp.py`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.config_runs import SMALL_MODEL, environment
from tests.data.conftest import demo_data
from tests.finetune.test_vqa_configs import CONFIGS, data_tree
from vlp.cli.main import main as vlp_main

__all__ = ["data_tree", "demo_data", "environment"]


def fit(config: str, root: Path, steps: int, *extra: str) -> int:
    return vlp_main(
        [
            "fit",
            "--config",
            str(CONFIGS / config),
            *SMALL_MODEL,
            "--trainer.strategy=fsdp",
            "--trainer.accelerator=gpu",
            "--trainer.devices=1",
            f"--trainer.max_steps={steps}",
            "--trainer.limit_val_batches=0",
            "--trainer.logger=false",
            f"--trainer.default_root_dir={root}",
            "--data.init_args.loader.num_workers=0",
            "--data.init_args.loader.batch_size=4",
            *extra,
        ]
    )


@pytest.mark.slow
@pytest.mark.gpu
@pytest.mark.parametrize("config", ["vqa.yaml", "captioning.yaml", "retrieval_coco.yaml"])
def test_fsdp_finetunes_saves_and_resumes(environment, tmp_path: Path, config: str):
    assert fit(config, tmp_path, 2) == 0
    checkpoints = sorted((tmp_path / "checkpoints").glob("*.ckpt"), key=lambda path: path.stat().st_mtime)
    assert checkpoints and torch.load(checkpoints[-1], weights_only=False)["global_step"] == 2
    assert fit(config, tmp_path / "resumed", 3, f"--ckpt_path={checkpoints[-1]}") == 0
    resumed = sorted((tmp_path / "resumed" / "checkpoints").glob("*.ckpt"), key=lambda path: path.stat().st_mtime)
    assert torch.load(resumed[-1], weights_only=False)["global_step"] == 3
