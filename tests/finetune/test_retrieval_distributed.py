"""DDP on CPU: two gloo processes rank the gallery and count recall exactly as one process, in every mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data.conftest import FEATURE_DIM, bert_vocab, demo_data

__all__ = ["demo_data"]
SCRIPT = "tests.finetune.ddp_retrieval_script"
ROOT = Path(__file__).resolve().parents[2]


def launch(demo_data, out: Path, devices: int, mode: str, *extra: str) -> None:
    command = [sys.executable, "-m", SCRIPT, f"--split_file={demo_data.world.karpathy}", f"--store={demo_data.store}"]
    command += [f"--vocab={bert_vocab()}", f"--out={out}", f"--devices={devices}", f"--mode={mode}"]
    command += [f"--feature_dim={FEATURE_DIM}", *extra]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]


def run(demo_data, out: Path, devices: int, mode: str) -> tuple[dict[str, float], dict[str, object]]:
    launch(demo_data, out, devices, mode)
    return json.loads((out / "metrics.json").read_text()), json.loads((out / "rankings.json").read_text())


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_two_processes_rank_and_recall_as_one(demo_data, tmp_path, mode):
    one_metrics, one_rankings = run(demo_data, tmp_path / "one", 1, mode)
    two_metrics, two_rankings = run(demo_data, tmp_path / "two", 2, mode)
    assert set(one_metrics) == {f"val/{d}/R@{k}" for d in ("image_to_text", "text_to_image") for k in (1, 5, 10)} | {
        "val/rsum"
    }
    assert two_metrics == one_metrics
    assert two_rankings == one_rankings
    assert len(one_rankings["image_to_text"]) == 15 and len(one_rankings["text_to_image"]) == 75
    # Random weights rank some true pairs first, not all: the comparison is not between two trivial results.
    assert 0 < one_metrics["val/rsum"] < 600


@pytest.mark.slow
@pytest.mark.distributed
def test_two_processes_draw_negatives_from_the_global_batch(demo_data, tmp_path):
    launch(demo_data, tmp_path, 2, "fast", "--fit")
    records = [json.loads((tmp_path / f"fit{rank}.json").read_text()) for rank in (0, 1)]
    assert [len(steps) for steps in records] == [2, 2]
    for rank, steps in enumerate(records):
        for step in steps:
            # Batches of 5 per process: the world batch holds both processes' 10, this process's rows at its offset.
            assert (step["world"], step["local"], step["offset"]) == (10, 5, 5 * rank)
            assert step["negatives_of_other_images"] and step["positives_local"]
