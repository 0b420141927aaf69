"""What the pretraining benchmarks share: a demo recipe's module and data built as `vlp fit` builds them, pre-built
training batches, and one timed training step.

Not a benchmark itself; `pretrain_input_speed.py` and `pretrain_recipe_speed.py` import it (run them by path, so that
this folder is on `sys.path`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from lightning.pytorch import LightningDataModule

from vlp.cli.demo import DemoRun
from vlp.cli.main import lightning_cli
from vlp.data.batch import PretrainBatch
from vlp.pretrain import PretrainModule
from vlp.pretrain.compute import compute_objectives
from vlp.train.optim import build_optimizer


def build_demo(config: Path, run_dir: Path, *overrides: str) -> tuple[PretrainModule, LightningDataModule]:
    """The module and the data, ready for `train_dataloader`, of the demo config `config` on the run `run_dir`, with
    `vlp fit`-style `overrides`.

    The demo configs find the run's files, and the region store's feature width, through environment variables;
    `DemoRun.environment` reads the width from the store, so any demo run works. One loader process (no workers) keeps
    batch building in this process, where it can be timed or excluded.
    """
    os.environ.update(DemoRun(run_dir, num_images=0, seed=0).environment())
    cli = lightning_cli(["--config", str(config), "--data.init_args.loader.num_workers=0", *overrides], run=False)
    module, data = cli.model, cli.datamodule
    assert isinstance(module, PretrainModule)
    # As `vlp fit` would: trains the word-piece vocabulary beside the run on its first use, then reads the corpora.
    data.prepare_data()
    data.setup("fit")
    return module, data


def build_batches(data: LightningDataModule, count: int) -> tuple[list[PretrainBatch], float]:
    """The first `count` training batches, and the milliseconds each took to build on average."""
    loader = iter(data.train_dataloader())
    started = time.perf_counter()
    batches = [next(loader) for _ in range(count)]
    return batches, (time.perf_counter() - started) * 1000 / count


def demo_optimizer(module: PretrainModule, steps: int) -> torch.optim.Optimizer:
    """The module's optimizer, as `configure_optimizers` builds it for a run of `steps` steps (its schedule is not
    stepped: the learning rate does not change the cost of a step)."""
    optimizer, _ = build_optimizer(module, module.optimizer_settings, total_steps=steps)
    return optimizer


def train_step_ms(
    module: PretrainModule, optimizer: torch.optim.Optimizer, batch: PretrainBatch, objectives: list[str]
) -> float:
    """Milliseconds of one training step computing `objectives` on `batch`: their losses, the step's loss, backward and
    the optimizer step.

    The losses are combined as `PretrainModule.training_step` combines them in one process: `all` mixing shares the
    masked-input pass and sums the losses with their weights; `sample` mixing takes its one loss as it is. Logging,
    gradient clipping and the learning-rate schedule are left out: the same for every recipe, and small.
    """
    shared = module.mixing == "all"
    # The module's own per-step seeding needs a trainer; a fixed seed draws the same amount of work.
    hard_negatives = torch.Generator().manual_seed(0) if module.itm_hard_negatives else None
    started = time.perf_counter()
    logit_scale = None if module.logit_scale is None else module.logit_scale()
    outputs = compute_objectives(module.model, module.heads, batch, objectives, shared, logit_scale, hard_negatives)
    weights = module.objectives.active
    loss = sum(((weights[name] if shared else 1.0) * output.loss for name, output in outputs.items()), torch.zeros(()))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return (time.perf_counter() - started) * 1000
