"""The `vlp` console script: dispatch to LightningCLI and to helper sub-commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from lightning.pytorch.callbacks import ModelCheckpoint

from vlp.cli.main import lightning_cli, main


def test_help_lists_lightning_and_helper_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "fit" in out and "demo" in out


def test_unknown_command_is_an_error(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_fit_runs_lightning_cli_with_class_paths_and_interpolation(tmp_path: Path):
    """`vlp fit --config X.yaml` reaches LightningCLI; the config names classes and may use OmegaConf interpolation."""
    config = {
        "seed_everything": 0,
        "trainer": {
            "fast_dev_run": 2,
            "accelerator": "cpu",
            "logger": False,
            "enable_checkpointing": False,
            "default_root_dir": str(tmp_path),
        },
        "model": {"class_path": "lightning.pytorch.demos.boring_classes.BoringModel"},
        "data": {"class_path": "lightning.pytorch.demos.boring_classes.BoringDataModule"},
    }
    # An int-typed key given as an interpolation: validation fails unless OmegaConf resolves it first.
    config["trainer"]["max_epochs"] = "${trainer.fast_dev_run}"
    path = tmp_path / "boring.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "vlp.cli.main", "fit", "--config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "Running in `fast_dev_run` mode: will run the requested loop using 2 batch(es)" in result.stdout + result.stderr
    )


def test_interpolations_follow_the_command_line_flags(tmp_path: Path):
    """A checkpoint folder the file derives from `trainer.default_root_dir` moves with `--trainer.default_root_dir`."""
    config = {
        "trainer": {
            "accelerator": "cpu",
            "logger": False,
            "default_root_dir": str(tmp_path / "from_file"),
            "callbacks": [
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {"dirpath": "${trainer.default_root_dir}/checkpoints"},
                }
            ],
        },
        "model": {"class_path": "lightning.pytorch.demos.boring_classes.BoringModel"},
        "data": {"class_path": "lightning.pytorch.demos.boring_classes.BoringDataModule"},
    }
    path = tmp_path / "boring.yaml"
    path.write_text(yaml.safe_dump(config))

    def checkpoint_folder(*flags: str) -> str:
        cli = lightning_cli(["--config", str(path), *flags], run=False)
        (checkpoints,) = [callback for callback in cli.trainer.callbacks if isinstance(callback, ModelCheckpoint)]
        return str(checkpoints.dirpath)

    assert checkpoint_folder() == str(tmp_path / "from_file" / "checkpoints")
    assert checkpoint_folder(f"--trainer.default_root_dir={tmp_path / 'flag'}") == str(
        tmp_path / "flag" / "checkpoints"
    )
