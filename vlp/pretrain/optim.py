"""AdamW with linear warmup and linear decay, both counted in optimizer steps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from lightning.pytorch import LightningModule
from torch import nn


@dataclass(frozen=True)
class OptimizerSettings:
    """AdamW and its schedule.

    Attributes:
        lr: peak learning rate, reached at the end of warmup.
        weight_decay: decoupled weight decay, not applied to biases and LayerNorm weights (as BERT, Oscar, UNITER).
        betas: Adam's moment decay rates.
        eps: Adam's epsilon.
        warmup_steps: optimizer steps of linear warmup from 0.
        warmup_ratio: warmup as a share of all optimizer steps, used when `warmup_steps` is 0.
    """

    lr: float = 5e-5
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-6
    warmup_steps: int = 0
    warmup_ratio: float = 0.0

    def warmup(self, total_steps: int) -> int:
        """Warmup length in optimizer steps for a run of `total_steps`."""
        return self.warmup_steps or round(self.warmup_ratio * total_steps)


def warmup_linear_decay(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor at optimizer step `step`: rises linearly to 1 over `warmup` steps, then falls linearly to
    0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def parameter_groups(named: Iterable[tuple[str, nn.Parameter]], weight_decay: float) -> list[dict[str, object]]:
    """Two AdamW groups: decayed matrices, and biases, norms and other vectors without decay."""
    decay, no_decay = [], []
    for _, parameter in named:
        if parameter.requires_grad:
            (decay if parameter.dim() >= 2 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(
    module: nn.Module, settings: OptimizerSettings, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over `module`'s parameters and its warmup-then-decay schedule, stepped once per optimizer step.

    Args:
        module: what to optimise.
        settings: the optimizer and schedule settings.
        total_steps: optimizer steps of the whole run (with gradient accumulation, batches / accumulation), e.g.
            Lightning's `trainer.estimated_stepping_batches`.
    """
    optimizer = torch.optim.AdamW(
        parameter_groups(module.named_parameters(), settings.weight_decay),
        lr=settings.lr,
        betas=settings.betas,
        eps=settings.eps,
        # The fused kernel updates all parameters in one pass; the default multi-tensor path is about 10x slower on
        # CPU for models of the demo's size, where it took most of each step.
        fused=True,
    )
    warmup = settings.warmup(total_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_linear_decay(step, warmup, total_steps))
    return optimizer, schedule


def lightning_optimizers(module: LightningModule, settings: OptimizerSettings) -> dict[str, object]:
    """`configure_optimizers`' answer for `module`: `build_optimizer` over the trainer's estimated optimizer steps,
    with the schedule stepped every optimizer step."""
    optimizer, schedule = build_optimizer(module, settings, int(module.trainer.estimated_stepping_batches))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
