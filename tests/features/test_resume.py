"""Crash safety and scale: a run killed with SIGKILL and started again, and a run split over local processes, both
end with a store equal to an uninterrupted single run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.features.images import pattern, write_coco
from tests.features.runs import QUICK, assert_same_store, extract
from vlp.store import RegionStore

REPO_ROOT = Path(__file__).resolve().parents[2]
NUM_IMAGES = 40
KILL_AFTER = 6


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume")
    images = []
    for i in range(NUM_IMAGES):
        Image.fromarray(pattern(48, 64, seed=i)).save(root / f"{i:03d}.png")
        images.append((1000 + i, f"{i:03d}.png", 48, 64))
    boxes = {1000 + i: [(i % 20, 4, 20, 30, f"class{i % 3}", [])] for i in range(NUM_IMAGES)}
    return write_coco(root / "instances.json", images, boxes)


SLOW_COMMITS = ["run.batch_size=1", "run.commit_every=2"]  # many small commits for the kill to land between


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run(dataset, resnet18_weights, tmp_path, capsys):
    reference = tmp_path / "reference.h5"
    assert extract([dataset], reference, *SLOW_COMMITS, weights=resnet18_weights) == 0
    killed = tmp_path / "killed.h5"
    argv = [sys.executable, "-m", "features.cli", "run", "--config", "configs/features/given_boxes.yaml"]
    argv += ["--input", str(dataset), "--output", str(killed), *QUICK, *SLOW_COMMITS]
    argv += [f"backend.init_args.weights={resnet18_weights}", "run.progress=log", "run.log_every_s=0"]
    child = subprocess.Popen(argv, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        for line in child.stderr:
            done = re.search(r": (\d+)/\d+ images", line)
            if done and int(done.group(1)) >= KILL_AFTER:
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with RegionStore(killed) as partial:
        committed = len(partial)
    assert 0 < committed < NUM_IMAGES, "the kill should land mid-run"
    assert extract([dataset], killed, *SLOW_COMMITS, weights=resnet18_weights) == 0
    assert f"{committed} already in the store" in capsys.readouterr().out
    with RegionStore(killed) as resumed, RegionStore(reference) as uninterrupted:
        assert len(resumed.image_ids) == len(set(resumed.image_ids)) == NUM_IMAGES
        assert_same_store(resumed, uninterrupted)


@pytest.mark.slow
def test_local_processes_write_shards_that_read_as_one(dataset, resnet18_weights, tmp_path):
    single = tmp_path / "single.h5"
    assert extract([dataset], single, weights=resnet18_weights) == 0
    parallel = tmp_path / "parallel.h5"
    assert extract([dataset], parallel, "--processes", "2", weights=resnet18_weights) == 0
    assert sorted(p.name for p in tmp_path.glob("parallel.0*.h5")) == [
        "parallel.00000-of-00002.h5",
        "parallel.00001-of-00002.h5",
    ]
    with RegionStore(parallel) as merged, RegionStore(single) as one:
        assert_same_store(merged, one)
