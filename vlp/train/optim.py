"""AdamW with linear warmup and linear decay, both counted in optimizer steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def parameter_groups(
    named: Iterable[tuple[str, nn.Parameter]],
    weight_decay: float,
    lr: float,
    lr_multipliers: Mapping[str, float] | None = None,
) -> list[dict[str, object]]:
    """AdamW groups: decayed matrices, and biases, norms and other vectors without decay; each split again by
    learning rate when `lr_multipliers` gives some parameters another one.

    Args:
        named: the (name, parameter) pairs to optimise; frozen ones are left out.
        weight_decay: the decay of matrices.
        lr: the peak learning rate.
        lr_multipliers: parameter name prefix -> factor on `lr` for the parameters under it (UNITER's `lr_mul`, which
            trains its freshly initialised task heads 10 times faster than the pretrained body). The first matching
            prefix applies.

    Returns:
        Non-empty groups, each with its `params`, `weight_decay` and `lr`.
    """
    multipliers = dict(lr_multipliers or {})
    groups: dict[tuple[bool, float], list[nn.Parameter]] = {}
    for name, parameter in named:
        if parameter.requires_grad:
            factor = next((f for prefix, f in multipliers.items() if name.startswith(prefix)), 1.0)
            groups.setdefault((parameter.dim() >= 2, factor), []).append(parameter)
    return [
        {"params": params, "weight_decay": weight_decay if decayed else 0.0, "lr": lr * factor}
        for (decayed, factor), params in groups.items()
    ]


def build_optimizer(
    module: nn.Module,
    settings: OptimizerSettings,
    total_steps: int,
    lr_multipliers: Mapping[str, float] | None = None,
    fused: bool = True,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over `module`'s parameters and its warmup-then-decay schedule, stepped once per optimizer step.

    Args:
        module: what to optimise.
        settings: the optimizer and schedule settings.
        total_steps: optimizer steps of the whole run (with gradient accumulation, batches / accumulation), e.g.
            Lightning's `trainer.estimated_stepping_batches`.
        lr_multipliers: parameter name prefix -> learning-rate factor (see `parameter_groups`); the schedule scales
            every group's own rate.
        fused: use the fused AdamW kernel (see below); the multi-tensor one otherwise.
    """
    optimizer = torch.optim.AdamW(
        parameter_groups(module.named_parameters(), settings.weight_decay, settings.lr, lr_multipliers),
        lr=settings.lr,
        betas=settings.betas,
        eps=settings.eps,
        # The fused kernel updates all parameters in one pass; the default multi-tensor path is about 10x slower on
        # CPU for models of the demo's size, where it took most of each step.
        fused=fused,
    )
    warmup = settings.warmup(total_steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_linear_decay(step, warmup, total_steps))
    return optimizer, schedule


def lightning_optimizers(
    module: LightningModule, settings: OptimizerSettings, lr_multipliers: Mapping[str, float] | None = None
) -> dict[str, object]:
    """`configure_optimizers`' answer for `module`: `build_optimizer` over the trainer's estimated optimizer steps,
    with the schedule stepped every optimizer step."""
    steps = int(module.trainer.estimated_stepping_batches)
    # Lightning's mixed-precision plugins refuse to clip the gradients of an optimizer that unscales them itself, as
    # the fused AdamW declares it does; under mixed precision the multi-tensor kernel is used instead.
    mixed = "mixed" in str(module.trainer.precision)
    optimizer, schedule = build_optimizer(module, settings, steps, lr_multipliers, fused=not mixed)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
