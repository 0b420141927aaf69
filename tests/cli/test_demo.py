"""`vlp demo`: stages run in order, write where later stages look, and echo the user-facing commands they run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vlp.cli.demo import FAILED_LOG_LINES, main, run_command
from vlp.store import RegionStore


@pytest.mark.slow
def test_world_and_features_stages(tmp_path, capsys):
    run_dir = tmp_path / "demo"
    assert main(["--run-dir", str(run_dir), "--num-images", "12", "--stages", "world,features"]) == 0
    out = capsys.readouterr().out
    assert "$ extract-features run --config" in out and "== vlp demo: features ==" in out
    images = []
    for split in ("train", "val", "test"):
        images += json.loads((run_dir / "world/annotations" / f"instances_{split}.json").read_text())["images"]
    store = RegionStore(run_dir / "features" / "regions.h5")
    assert store.feature_dim == 128  # the demo config's resnet18 layer2
    assert sorted(store.image_ids) == sorted(str(image["id"]) for image in images)
    # Every annotated object is a region, plus the whole-image region of the demo config.
    annotations = sum(
        len(json.loads((run_dir / "world/annotations" / f"instances_{s}.json").read_text())["annotations"])
        for s in ("train", "val", "test")
    )
    assert sum(store.num_regions(i) for i in store.image_ids) == annotations + len(images)


def test_unknown_stage_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--run-dir", str(tmp_path), "--stages", "world,bogus"])
    assert "unknown stage(s) bogus" in capsys.readouterr().err


def test_a_failing_command_stops_the_demo_with_its_stage_named(tmp_path, capsys):
    """The features stage without a world: extract-features fails, and the demo says which stage broke."""
    assert main(["--run-dir", str(tmp_path / "empty"), "--stages", "features"]) == 1
    assert "vlp demo: stage 'features' failed" in capsys.readouterr().err


def test_logged_commands_append_to_their_log_and_show_its_end_when_they_fail(tmp_path, capsys):
    log = tmp_path / "run" / "demo.log"
    run_command([sys.executable, "-c", "print('ok' * 2)"], env={"X": "1"}, log=log)
    script = "import sys; print('\\n'.join(f'line {i}' for i in range(60))); sys.exit(3)"
    with pytest.raises(subprocess.CalledProcessError) as failure:
        run_command([sys.executable, "-c", script], log=log)
    assert failure.value.returncode == 3
    lines = log.read_text().splitlines()
    # Each command is echoed into the log before its output; the terminal gets only the echo lines.
    assert lines[0].startswith("$ X=1 ") and lines[1] == "okok" and lines[2].startswith("$ ")
    assert lines[3:] == [f"line {i}" for i in range(60)]
    captured = capsys.readouterr()
    assert captured.out.count(f">> {log}") == 2 and "okok" not in captured.out
    shown = captured.err.splitlines()
    assert shown[0] == f"--- the last lines of {log}:"
    assert shown[1:] == [f"line {i}" for i in range(60 - FAILED_LOG_LINES, 60)]
