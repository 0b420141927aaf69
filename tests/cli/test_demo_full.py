"""`vlp demo --full`: every task and variant at every seed, each in its own folder linked to the run's world,
features and pretrained model, reused when finished; driven here by stand-in task modules that record what they were
asked to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlp.cli import demo_full
from vlp.cli.demo_full import run_full, variant_folder
from vlp.report import StageSummary

# A stand-in for a task's demo module: its summary's value encodes the seed and the variant it was run as.
FAKE_TASK = """
import sys
from pathlib import Path
from vlp.report import StageSummary

args = sys.argv[1:]
run_dir = Path(args[args.index("--run-dir") + 1])
assert (run_dir / "world").is_dir() and (run_dir / "pretrain").is_dir()
seed = int(next(a for a in args if a.startswith("--seed_everything=")).split("=")[1])
value = seed + (100 if "--data.init_args.shuffle_region_features=true" in args else 0)
value += 1000 if "--model.init_args.init_from=null" in args else 0
StageSummary(TASK, "metric of " + TASK, value, {"regions shuffled at test": 7.0}, 1.0).save(run_dir / "finetune" / TASK)
with open(run_dir.parent / "calls.txt", "a") as calls:
    calls.write(TASK + " " + " ".join(args[2:]) + "\\n")
"""


@pytest.fixture
def fake_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    modules = tmp_path / "modules"
    modules.mkdir()
    tasks = {}
    for task, (_, extra, folder) in demo_full.TASKS.items():
        (modules / f"fake_{task}.py").write_text(f"TASK = {task!r}\n" + FAKE_TASK)
        tasks[task] = (f"fake_{task}", extra, folder)
    monkeypatch.setattr(demo_full, "TASKS", tasks)
    monkeypatch.setenv("PYTHONPATH", f"{modules}:{Path.cwd()}")
    run_dir = tmp_path / "run"
    for name in ("world", "features", "pretrain"):
        (run_dir / name).mkdir(parents=True)
    # The default demo's own runs are seed 0 of the pretrained variant.
    for task in tasks:
        StageSummary(task, f"metric of {task}", 0.5, {"regions shuffled at test": 7.0}, 1.0).save(
            run_dir / "finetune" / task
        )
    return run_dir


def test_every_variant_runs_at_every_seed_and_is_reused(fake_tasks: Path):
    run_dir = fake_tasks
    lines = run_full(run_dir, run_dir / "features" / "regions.h5")
    table = {row.split("|")[1].strip(): [c.strip() for c in row.strip("|").split("|")] for row in lines if "|" in row}
    shuffled_at_test = "7.000 / 7.000 / 7.000 (mean 7.000)"  # each pretrained run's own test-time control
    assert table["task"] == [
        "task",
        "metric",
        "pretrained",
        "trained on shuffled regions",
        "from scratch",
        "regions shuffled at test",
    ]
    assert table["vqa"][2:] == [
        "0.500 / 1.000 / 2.000 (mean 1.167)",
        "100.00 / 101.00 / 102.00 (mean 101.00)",
        "1000.00 / 1001.00 / 1002.00 (mean 1001.00)",
        shuffled_at_test,
    ]
    assert table["captioning"][1:] == [
        "metric of captioning",
        "0.500 / 1.000 / 2.000 (mean 1.167)",
        "100.00 / 101.00 / 102.00 (mean 101.00)",
        "",
        shuffled_at_test,
    ]
    assert table["retrieval"][3:] == ["100.00 / 101.00 / 102.00 (mean 101.00)", "", shuffled_at_test]
    calls = (run_dir / "full" / "calls.txt").read_text().splitlines()
    # 2 more pretrained seeds and 3 shuffled per task, and 3 from scratch for VQA.
    assert len(calls) == 2 * 3 + 3 * 3 + 3
    assert "retrieval --modes=fast --seed_everything=1" in calls
    folder = variant_folder(run_dir, "vqa", "trained on shuffled regions", 2)
    assert folder == run_dir / "full" / "vqa_shuffled_seed2" and (folder / "world").resolve() == run_dir / "world"
    # A second run reuses every finished variant; --force runs them again (but never the default demo's own runs).
    run_full(run_dir, run_dir / "features" / "regions.h5")
    assert len((run_dir / "full" / "calls.txt").read_text().splitlines()) == len(calls)
    run_full(run_dir, run_dir / "features" / "regions.h5", force=True)
    assert len((run_dir / "full" / "calls.txt").read_text().splitlines()) == 2 * len(calls)
    assert StageSummary.load(run_dir / "finetune/vqa/demo_summary.vqa.json").value == 0.5
