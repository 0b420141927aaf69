"""`CompileModel`: `torch.compile` for the transformer of any vlp task, as a callback the config or command line adds.

    vlp fit --config configs/pretrain/oscar_coco.yaml --trainer.callbacks+=vlp.train.CompileModel

What it gained, measured by `benchmarks/compile_speed.py` on 2 CPU cores (docs/performance.md): the BERT-base step
8-11% faster once compiled, after 1-1.5 minutes of compiling per workload, and 1-3% at 2 layers. It pays on long runs
only, hence off by default. The model packs each batch's real tokens (`vlp.model.packing`) through data-dependent
shapes, so the compiled graph comes in pieces, and `dynamic=True` keeps a new batch length from compiling again.
"""

from __future__ import annotations

import weakref

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info
from torch import nn


class CompileModel(Callback):
    """Compiles `pl_module.model` in place (`nn.Module.compile`) when a stage sets up: its parameters, state dict keys,
    checkpoints and exported folders stay as they are, the heads and losses stay eager.

    Args:
        dynamic: compile for symbolic sizes (batch and token counts change from batch to batch).
        mode: `torch.compile`'s mode (None, "reduce-overhead", "max-autotune", ...).
    """

    def __init__(self, dynamic: bool = True, mode: str | None = None) -> None:
        self.dynamic, self.mode = dynamic, mode
        self._compiled: weakref.WeakSet[nn.Module] = weakref.WeakSet()

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        model = getattr(pl_module, "model", None)
        if not isinstance(model, nn.Module):
            raise ValueError(f"CompileModel compiles a module's `model`; {type(pl_module).__name__} has none")
        if model not in self._compiled:
            model.compile(dynamic=self.dynamic, mode=self.mode)
            self._compiled.add(model)
            rank_zero_info(
                f"CompileModel: {type(model).__name__} compiles on its first batches (dynamic={self.dynamic})"
            )
