"""What the tests of the training YAMLs share: a small model and CPU overrides, links into a data tree, parsing a config
as `vlp fit` does, and the environment fixture that points the configs at the test's data tree."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pytest
from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningCLI

from vlp.cli.main import lightning_cli

# A full-size config made small enough for one CPU training step.
SMALL_MODEL = [
    "--model.init_args.init_from=null",
    "--model.init_args.config.hidden_size=32",
    "--model.init_args.config.num_layers=1",
    "--model.init_args.config.num_heads=2",
    "--model.init_args.config.intermediate_size=32",
]
CPU = ["--trainer.accelerator=cpu", "--trainer.precision=32", "--data.init_args.loader.num_workers=0"]


def link(target: Path, path: Path) -> None:
    """Makes `path` (and its folder) a symbolic link to `target`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def instantiate(config: Path, *overrides: str) -> LightningCLI:
    """Parses and instantiates a config as `vlp fit` does, without running it."""
    return lightning_cli(["--config", str(config), *overrides], run=False)


Data = TypeVar("Data", bound=LightningDataModule)


def plain_and_shuffled(config: Path, data_class: type[Data]) -> tuple[Data, Data]:
    """The data module of `config` as it is and with `--data.init_args.shuffle_region_features=true`, both set up for
    fitting."""
    plain = instantiate(config).datamodule
    shuffled = instantiate(config, "--data.init_args.shuffle_region_features=true").datamodule
    assert isinstance(plain, data_class) and isinstance(shuffled, data_class)
    for data in (plain, shuffled):
        data.setup("fit")
    return plain, shuffled


@pytest.fixture
def environment(data_tree: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Sets the environment variables of the module's `data_tree` fixture (the files the configs read)."""
    for key, value in data_tree.items():
        monkeypatch.setenv(key, value)
    return data_tree
