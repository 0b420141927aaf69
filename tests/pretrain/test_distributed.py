"""DDP on CPU: two gloo processes holding half a batch each take the step one process takes on the whole batch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.data.conftest import bert_vocab

# A module run from the repository root, so that it imports `tests` (and Lightning starts its second process alike).
SCRIPT = "tests.pretrain.ddp_script"
ROOT = Path(__file__).resolve().parents[2]


def run_step(demo_data, tmp_path: Path, devices: int, accelerator: str = "cpu") -> dict[str, torch.Tensor]:
    out = tmp_path / f"grads_{accelerator}_{devices}.pt"
    command = [
        sys.executable,
        "-m",
        SCRIPT,
        "--captions",
        str(demo_data.world.captions["train"]),
        "--store",
        str(demo_data.store),
        "--vocab",
        str(bert_vocab()),
        "--out",
        str(out),
        "--root",
        str(tmp_path / str(devices)),
        "--devices",
        str(devices),
        "--accelerator",
        accelerator,
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return torch.load(out, map_location="cpu")


@pytest.mark.slow
@pytest.mark.distributed
def test_ddp_gradients_match_one_process(demo_data, tmp_path):
    single = run_step(demo_data, tmp_path, devices=1)
    ddp = run_step(demo_data, tmp_path, devices=2)
    assert single.keys() == ddp.keys() and len(single) > 20
    for name, gradient in single.items():
        torch.testing.assert_close(ddp[name], gradient, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.slow
@pytest.mark.gpu
def test_nccl_ddp_gradients_match_one_gpu(demo_data, tmp_path):
    if torch.cuda.device_count() < 2:
        pytest.skip("NCCL DDP needs two CUDA devices")
    single = run_step(demo_data, tmp_path, devices=1, accelerator="gpu")
    ddp = run_step(demo_data, tmp_path, devices=2, accelerator="gpu")
    assert single.keys() == ddp.keys() and len(single) > 20
    for name, gradient in single.items():
        torch.testing.assert_close(ddp[name], gradient, rtol=1e-3, atol=1e-5, msg=name)
