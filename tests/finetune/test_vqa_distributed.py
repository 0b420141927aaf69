"""DDP on CPU: two gloo processes score and answer the same questions as one process, each question once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.finetune.vqa_setup import VQAData

# A module run from the repository root, so that it imports `tests` (and Lightning starts its second process alike).
SCRIPT = "tests.finetune.ddp_vqa_script"
ROOT = Path(__file__).resolve().parents[2]


def run(vqa_data: VQAData, out: Path, devices: int) -> tuple[dict[str, float], list[dict[str, object]]]:
    source = vqa_data.source("val")
    command = [sys.executable, "-m", SCRIPT, f"--questions={source.questions}", f"--annotations={source.annotations}"]
    command += [f"--store={source.store}", f"--vocab={vqa_data.data.vocab}", f"--answers={vqa_data.answers}"]
    command += [f"--out={out}", f"--devices={devices}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((out / "metrics.json").read_text()), json.loads((out / "results.json").read_text())


@pytest.mark.slow
@pytest.mark.distributed
def test_two_processes_give_the_single_process_accuracy_and_results(vqa_data: VQAData, tmp_path: Path) -> None:
    single_metrics, single_results = run(vqa_data, tmp_path / "one", devices=1)
    ddp_metrics, ddp_results = run(vqa_data, tmp_path / "two", devices=2)
    assert len({entry["answer"] for entry in single_results}) > 1
    assert ddp_results == single_results  # every question once, in file order
    assert ddp_metrics.keys() == single_metrics.keys() and "val/vqa_acc/yes/no" in single_metrics
    for name, value in single_metrics.items():
        # Accuracies are sums of the same scores; the loss is a float32 mean reduced in another order.
        assert ddp_metrics[name] == pytest.approx(value, rel=1e-6 if name == "val/loss" else 1e-12), name
