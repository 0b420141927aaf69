"""FSDP (`--trainer.strategy fsdp`): the demo pretraining recipe at a small size fits, saves a checkpoint, resumes
from it and exports a folder that loads. Lightning runs FSDP on CUDA only (it refuses `accelerator='cpu'`), so the fit
is GPU-marked; on CPU the test checks that the refusal is Lightning's, named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.config_runs import SMALL_MODEL
from tests.pretrain.test_configs import CONFIGS, data_tree
from vlp.cli.main import main as vlp_main
from vlp.convert.folder import load_pretrained

__all__ = ["data_tree"]


def fit(root: Path, accelerator: str, steps: int, *extra: str) -> int:
    return vlp_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "demo_oscar.yaml"),
            *SMALL_MODEL,
            "--trainer.strategy=fsdp",
            f"--trainer.accelerator={accelerator}",
            "--trainer.devices=1",
            f"--trainer.max_steps={steps}",
            "--trainer.limit_val_batches=0",
            "--trainer.logger=false",
            f"--trainer.default_root_dir={root}",
            "--trainer.enable_checkpointing=true",
            "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
            f"--trainer.callbacks.dirpath={root / 'checkpoints'}",
            "--trainer.callbacks.save_last=true",
            "--data.init_args.loader.num_workers=0",
            "--data.init_args.loader.batch_size=8",
            *extra,
        ]
    )


@pytest.mark.slow
@pytest.mark.gpu
def test_fsdp_fits_saves_resumes_and_exports(environment, tmp_path: Path):
    assert fit(tmp_path, "gpu", 3) == 0
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 3  # Lightning's FSDP saves a full state by default
    assert fit(tmp_path, "gpu", 5, f"--ckpt_path={last}") == 0
    resumed = sorted((tmp_path / "checkpoints").glob("last*.ckpt"), key=lambda path: path.stat().st_mtime)[-1]
    assert torch.load(resumed, weights_only=False)["global_step"] == 5
    bundle = load_pretrained(tmp_path / "pretrained")
    assert bundle.config.hidden_size == 32 and "mlm" in bundle.heads


def test_fsdp_on_cpu_is_refused_in_one_line(environment, tmp_path: Path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the GPU test covers FSDP")
    assert fit(tmp_path, "cpu", 1) != 0
    assert "The strategy `fsdp` requires a GPU accelerator" in capsys.readouterr().err
