"""`vlp fit` on a config a user got wrong: one line naming the file, key or store and the setting, no traceback; and a
run that works prints none of the dependencies' warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.data.conftest import FEATURE_DIM, DemoData, demo_data
from vlp.cli.main import lightning_cli, main
from vlp.store import RegionStore, RegionStoreWriter

__all__ = ["demo_data"]
ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, data: DemoData, store: Path | str | None = None, **model: object) -> Path:
    """A small pretraining config over the test world, with `model` fields of the VLConfig changed."""
    store = str(store or data.store)
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "max_steps": 1,
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": str(path.parent / "run"),
        },
        "model": {
            "class_path": "vlp.pretrain.PretrainModule",
            "init_args": {
                "config": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 32, **model},
                "export_dir": str(path.parent / "run" / "pretrained"),
            },
        },
        "data": {
            "class_path": "vlp.data.PretrainDataModule",
            "init_args": {
                "train": [
                    {
                        "class_path": "vlp.data.CocoCaptionsCorpus",
                        "init_args": {"captions": str(data.world.captions["train"]), "store": store},
                    }
                ],
                "vocab": str(data.vocab),
                "loader": {"batch_size": 4, "num_workers": 0},
            },
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def fit_error(capsys: pytest.CaptureFixture[str], config: Path, *flags: str) -> str:
    assert main(["fit", "--config", str(config), *flags]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vlp fit ({config}): error: "), lines
    return lines[0]


def test_the_feature_width_comes_from_the_store(demo_data: DemoData, tmp_path: Path):
    config = write_config(
        tmp_path / "c.yaml", demo_data, region_feature_dim="${vlp.feature_dim:" + str(demo_data.store) + "}"
    )
    cli = lightning_cli(["--config", str(config)], run=False)
    assert cli.model.model.config.region_feature_dim == FEATURE_DIM


def test_a_relative_store_path_is_read_from_the_working_directory(demo_data, tmp_path, monkeypatch):
    # jsonargparse reads a config from inside its folder; the path stays relative to where the command runs.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "regions.h5").symlink_to(demo_data.store)
    (tmp_path / "configs").mkdir()
    config = write_config(
        tmp_path / "configs" / "c.yaml",
        demo_data,
        store="data/regions.h5",
        region_feature_dim="${vlp.feature_dim:data/regions.h5}",
    )
    monkeypatch.chdir(tmp_path)
    cli = lightning_cli(["--config", str(config)], run=False)
    assert cli.model.model.config.region_feature_dim == FEATURE_DIM


def test_a_feature_width_that_differs_from_the_store_names_both(demo_data: DemoData, tmp_path: Path, capsys):
    config = write_config(tmp_path / "c.yaml", demo_data, region_feature_dim=2048)
    line = fit_error(capsys, config)
    assert f"{demo_data.store} holds {FEATURE_DIM}-d region features but the model's region_feature_dim is 2048" in line
    assert f"region_feature_dim to {FEATURE_DIM}" in line
    assert not (tmp_path / "run" / "pretrained").exists()


def test_a_broken_interpolation_names_the_key(demo_data: DemoData, tmp_path: Path, capsys):
    config = write_config(tmp_path / "c.yaml", demo_data, region_feature_dim="${data.init_args.nothing}")
    line = fit_error(capsys, config)
    assert "key model.init_args.config.region_feature_dim" in line and "nothing" in line


def test_attribute_tags_over_a_store_without_attributes(demo_data: DemoData, tmp_path: Path, capsys):
    plain = tmp_path / "plain.h5"
    with RegionStore(demo_data.store) as source, RegionStoreWriter(plain, FEATURE_DIM) as writer:
        for image_id in source.image_ids:
            entry = source[image_id]
            writer.add(
                image_id, entry.image_size, np.asarray(entry.features), entry.boxes, entry.scores, entry.label_names
            )
    config = write_config(tmp_path / "c.yaml", demo_data, store=plain, region_feature_dim=FEATURE_DIM)
    line = fit_error(capsys, config, "--data.init_args.tag_attributes=true")
    assert f"tag_attributes is set but {plain} holds no region attributes" in line


@pytest.mark.slow
def test_a_run_prints_no_dependency_warnings(demo_data: DemoData, tmp_path: Path):
    config = write_config(tmp_path / "c.yaml", demo_data, region_feature_dim=FEATURE_DIM)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHONWARNINGS")}
    result = subprocess.run(
        [sys.executable, "-m", "vlp.cli.main", "fit", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    for notice in ("Warning", "tensorboardX", "args parameter", "deprecated", "Tip:"):
        assert notice not in output, output[-3000:]
    assert (tmp_path / "run" / "pretrained" / "model.safetensors").is_file()
