"""`vlp demo`: stages run in order, write where later stages look, and echo the user-facing commands they run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from vlp.cli import demo
from vlp.cli.commands import run_command
from vlp.cli.demo import main, pretrain_summary
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
    # The report draws the first test image with its regions; with no finetuned model it has no examples beyond it.
    test_image = json.loads((run_dir / "world/annotations/captions_test.json").read_text())["images"][0]["id"]
    report = (run_dir / "report.md").read_text()
    assert f"![image {test_image} with its regions](report/images/{test_image}.png)" in report
    assert (run_dir / "report" / "images" / f"{test_image}.png").is_file()
    assert out.rstrip().endswith(f"vlp demo: finished; the report is {run_dir / 'report.md'}")


def test_unknown_stage_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--run-dir", str(tmp_path), "--stages", "world,bogus"])
    assert "unknown stage(s) bogus" in capsys.readouterr().err


def test_a_failing_command_stops_the_demo_with_its_stage_named(tmp_path, capsys):
    """The features stage without a world: extract-features fails, and the demo says which stage broke."""
    assert main(["--run-dir", str(tmp_path / "empty"), "--stages", "features"]) == 1
    assert "vlp demo: stage 'features' failed" in capsys.readouterr().err


def test_run_command_echoes_the_command_and_raises_when_it_fails(capsys):
    run_command([sys.executable, "-c", "import os; print(os.environ['X'] * 2)"], env={"X": "ab"})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("$ X=ab ") and out[0].endswith("-c 'import os; print(os.environ['\"'\"'X'\"'\"'] * 2)'")
    with pytest.raises(subprocess.CalledProcessError) as failure:
        run_command([sys.executable, "-c", "import sys; sys.exit(3)"])
    assert failure.value.returncode == 3


def test_vlp_commands_run_in_this_process_with_their_variables(capsys, monkeypatch):
    import vlp.cli.main

    seen = []

    def fake_main(arguments):
        seen.append((arguments, os.environ.get("X")))
        os.environ["PL_GLOBAL_SEED"] = "7"  # as seed_everything would
        return 0 if arguments[0] == "fit" else 3

    monkeypatch.delenv("X", raising=False)
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    monkeypatch.setattr(vlp.cli.main, "main", fake_main)
    run_command(["vlp", "fit", "--config", "c.yaml"], env={"X": "ab"})
    assert seen == [(["fit", "--config", "c.yaml"], "ab")]
    assert "X" not in os.environ and "PL_GLOBAL_SEED" not in os.environ
    assert capsys.readouterr().out.startswith("$ X=ab vlp fit --config c.yaml")
    with pytest.raises(subprocess.CalledProcessError) as failure:
        run_command(["vlp", "predict"])
    assert failure.value.returncode == 3 and failure.value.cmd == ["vlp", "predict"]


def test_a_vlp_command_that_exits_is_a_failed_command(capsys):
    with pytest.raises(subprocess.CalledProcessError) as unknown:
        run_command(["vlp", "frobnicate"])
    assert unknown.value.returncode == 2 and "unknown command 'frobnicate'" in capsys.readouterr().err
    with pytest.raises(subprocess.CalledProcessError) as missing:
        run_command(["vlp", "eval", "vqa"])  # argparse exits: required arguments missing
    assert missing.value.returncode == 2 and "required" in capsys.readouterr().err


def test_finished_stages_are_reused_until_forced_and_later_stages_rerun(tmp_path, capsys, monkeypatch):
    calls = []
    fake = {
        name: (lambda run, name=name: calls.append(name), description) for name, (_, description) in demo.STAGES.items()
    }
    monkeypatch.setattr(demo, "STAGES", fake)
    run_dir = tmp_path / "run"
    assert main(["--run-dir", str(run_dir), "--stages", "world,features", "--no-report"]) == 0
    assert calls == ["world", "features"] and json.loads((run_dir / "stages/world.json").read_text())["seconds"] >= 0
    assert main(["--run-dir", str(run_dir), "--stages", "world,features", "--no-report"]) == 0
    assert calls == ["world", "features"]
    assert "== vlp demo: world == finished before in 0s; reused (--force runs it again)" in capsys.readouterr().out
    # A stage that never finished runs, and so does every stage after it, though they finished before.
    (run_dir / "stages/world.json").unlink()
    assert main(["--run-dir", str(run_dir), "--stages", "world,features", "--no-report"]) == 0
    assert calls == ["world", "features", "world", "features"]
    assert main(["--run-dir", str(run_dir), "--stages", "features", "--force", "--no-report"]) == 0
    assert calls[-1] == "features" and len(calls) == 5


def test_a_failed_stage_leaves_no_record(tmp_path, monkeypatch):
    def fail(run):
        raise subprocess.CalledProcessError(2, ["vlp", "fit"])

    monkeypatch.setitem(demo.STAGES, "pretrain", (fail, "pretraining"))
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "pretrain.json").write_text('{"seconds": 1}')
    assert main(["--run-dir", str(tmp_path), "--stages", "pretrain", "--force"]) == 1
    assert not (tmp_path / "stages" / "pretrain.json").exists()


def test_pretraining_is_summarised_from_its_validation_log(tmp_path):
    log = tmp_path / "pretrain/oscar/lightning_logs/version_0/metrics.csv"
    log.parent.mkdir(parents=True)
    log.write_text(
        "epoch,step,val/contrastive_acc,val/mlm_acc,val/infonce_acc,train/loss_step\n"
        "0,5,,,,3.0\n0,9,0.52,0.18,0.05,\n1,19,0.91,0.27,0.11,\n"
    )
    summary = pretrain_summary(tmp_path)
    assert summary.value == pytest.approx(91.0) and summary.controls == {"chance": 50.0} and summary.passed
    assert summary.details == {
        "mlm_acc (first epoch)": 0.18,
        "mlm_acc (last epoch)": 0.27,
        "infonce_acc (first epoch)": 0.05,
        "infonce_acc (last epoch)": 0.11,
    }
    with pytest.raises(ValueError, match="no validation log with val/contrastive_acc"):
        pretrain_summary(tmp_path / "elsewhere")
