"""Hyperparameters that checkpoints can carry: plain values only, since checkpoints are loaded with
`weights_only=True`, which refuses arbitrary classes."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from lightning.pytorch import LightningModule


def save_plain_hyperparameters(module: LightningModule, ignore: tuple[str, ...] = (), **typed: Any) -> None:
    """`module.save_hyperparameters()` for the calling `__init__`, with each argument named in `typed` (a `VLConfig`
    or another dataclass) stored as a dict of plain values instead of the object, and the arguments in `ignore` left
    out."""
    caller = inspect.currentframe()
    assert caller is not None and caller.f_back is not None
    module.save_hyperparameters(ignore=[*typed, *ignore], frame=caller.f_back)
    module.hparams.update(
        {
            name: value.to_dict() if hasattr(value, "to_dict") else dataclasses.asdict(value)
            for name, value in typed.items()
        }
    )
