"""Training throughput of each demo pretraining recipe, against the Oscar recipe measured in the same run.

Recipes: `configs/pretrain/demo_oscar.yaml` (the baseline), `demo_oscarplus.yaml`, `demo_uniter.yaml` and
`demo_rosita.yaml`. Each is built as `vlp fit` builds it (`vlp.cli.main.lightning_cli`, with no DataLoader workers), on
a demo run's world and region store; its first `--batches` training batches are built before timing, so that data
loading is left out. Then `--steps` optimizer steps are timed per recipe: the objectives the module computes on that
step, its loss (weighted sum for `mixing: all`, the one loss as it is for `mixing: sample`), backward and the AdamW
step (`demo_training.train_step_ms`). Gradient clipping, logging and the learning-rate schedule are left out.

`mixing: sample` (UNITER) draws one objective per batch with probability proportional to its weight, and the
objectives differ in cost (ITM runs its own forward pass, masked regions mask the image). Here such a recipe cycles
through its objectives by a smooth weighted round robin (weights 2:1:1:1 repeat mlm, itm, mrfr, mrc, mlm) rather
than drawing them as the module does: every objective then runs in proportion to its weight even in a short run,
where a random draw of 20 steps can leave one objective with a step or two. The recipe's time per step is the
expected one under the module's draw, the sum over objectives of (weight share x median time of that objective's
steps). For `mixing: all` it is the median step time. Examples/s is the batch size over that time; the ratio is a
recipe's examples/s over Oscar's (above 1: faster than Oscar).

The recipes take their steps in turn (one step of each, then the next), so that a machine shared with other work
slows them alike; one untimed step of each objective kind warms each recipe up first. The first run on a demo run
trains each recipe's word-piece vocabulary under `<run-dir>/pretrain/<recipe>/`, as `vlp fit` does.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pretrain_recipe_speed.py [--run-dir runs/demo] [--batches 20]
        [--steps 40]

Measured on 2 cores with another job on the other core (a contended machine), one thread, torch 2.14.1 (demo world of
2,000 images, 128-d features, about 4 regions per image), batch 64, defaults; two runs agreed within 2%. Oscar's
contrastive weight was 5 then (20 now); a weight does not change what a step computes:

    recipe     batch  ms/step examples/s  vs oscar  objectives
    oscar         64    154.8      413.5     1.00x  mlm + contrastive every step (all; weights 1, 5)
    oscarplus     64    131.5      486.5     1.18x  mlm + contrastive every step (all; weights 1, 1)
    uniter        64    120.8      529.8     1.28x  one per step by weight (sample): mlm 40% 121.9 ms, itm 20% 110.2 ms,
                                                    mrfr 20% 113.8 ms, mrc 20% 136.2 ms
    rosita        64    239.1      267.6     0.65x  mlm + itm + mrfr + mrc every step (all; weights 1, 1, 1, 1)

The model packs real tokens only, so text length sets most of the cost: Oscar's captions carry their region tags (18
text tokens an example on average), Oscar+ mixes in VQA question-answer pairs (14) and UNITER and ROSITA have no tags
(13), hence Oscar+ and UNITER's single-objective steps beat Oscar. ROSITA computes everything on every step: the
shared masked pass and ITM's own pass, about two forward passes, hence 0.65x. Profiled on their own, `mrc` and `mrfr`
steps cost the same (about 123 ms): the 20-odd ms between them above is not the objectives' own work.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from demo_training import build_batches, build_demo, demo_optimizer, train_step_ms

from vlp.cli.demo import CONFIGS
from vlp.data.batch import PretrainBatch
from vlp.pretrain import PretrainModule

RECIPES = ("oscar", "oscarplus", "uniter", "rosita")
"""Recipe names, `configs/pretrain/demo_<name>.yaml`; the first is the baseline."""


@dataclass
class Recipe:
    """One recipe's model, its pre-built batches, and the times of its steps by the objectives they computed."""

    name: str
    module: PretrainModule
    optimizer: torch.optim.Optimizer
    batches: list[PretrainBatch]
    schedule: list[tuple[str, ...]]
    times: dict[tuple[str, ...], list[float]] = field(default_factory=dict)

    def step(self, index: int) -> None:
        """Times the `index`-th step of the schedule, on the batches in turn."""
        objectives = self.schedule[index]
        ms = train_step_ms(self.module, self.optimizer, self.batches[index % len(self.batches)], list(objectives))
        self.times.setdefault(objectives, []).append(ms)

    def shares(self) -> dict[tuple[str, ...], float]:
        """How often the module computes each set of objectives: always all of them, or each by its weight."""
        weights = self.module.objectives.active
        if self.module.mixing == "all":
            return {tuple(weights): 1.0}
        total = sum(weights.values())
        return {(name,): weight / total for name, weight in weights.items()}

    def ms_per_step(self) -> float:
        """The expected step time under the module's mixing, from the median time of each set of objectives."""
        missing = [" + ".join(kind) for kind in self.shares() if kind not in self.times]
        if missing:
            raise SystemExit(f"{self.name}: too few --steps to time {', '.join(missing)}")
        return sum(share * statistics.median(self.times[kind]) for kind, share in self.shares().items())

    @property
    def batch_size(self) -> int:
        return self.batches[0].size

    def describe_objectives(self) -> str:
        weights = self.module.objectives.active
        if self.module.mixing == "all":
            return f"{' + '.join(weights)} every step (all; weights {', '.join(f'{w:g}' for w in weights.values())})"
        shares = self.shares().items()
        parts = [f"{kind[0]} {share:.0%} {statistics.median(self.times[kind]):.1f} ms" for kind, share in shares]
        return f"one per step by weight (sample): {', '.join(parts)}"


def weighted_cycle(weights: dict[str, float], steps: int) -> list[str]:
    """`steps` names, each as often as its weight's share, spread out (smooth weighted round robin): every step each
    name gains its weight in credit, and the name with the most credit runs and pays the total weight."""
    credit = dict.fromkeys(weights, 0.0)
    total = sum(weights.values())
    order = []
    for _ in range(steps):
        for name, weight in weights.items():
            credit[name] += weight
        chosen = max(credit, key=credit.__getitem__)
        credit[chosen] -= total
        order.append(chosen)
    return order


def schedule_for(module: PretrainModule, steps: int) -> list[tuple[str, ...]]:
    """The objectives of each timed step: all of them for `mixing: all`, else one a step by `weighted_cycle`."""
    weights = module.objectives.active
    if module.mixing == "all":
        return [tuple(weights)] * steps
    return [(name,) for name in weighted_cycle(weights, steps)]


def build_recipe(name: str, run_dir: Path, batches: int, steps: int) -> Recipe:
    module, data = build_demo(CONFIGS / "pretrain" / f"demo_{name}.yaml", run_dir)
    built, _ = build_batches(data, batches)
    return Recipe(name, module, demo_optimizer(module, steps), built, schedule_for(module, steps))


def warm_up(recipe: Recipe) -> None:
    """One untimed step of each set of objectives the recipe computes (first calls allocate and pick kernels)."""
    for kind in recipe.shares():
        train_step_ms(recipe.module, recipe.optimizer, recipe.batches[0], list(kind))


def report(recipes: list[Recipe]) -> None:
    """A line per recipe: batch size, ms per step, examples/s and its ratio to the first recipe's, objectives."""
    baseline = recipes[0].batch_size * 1000 / recipes[0].ms_per_step()
    print(f"{'recipe':<10} {'batch':>5} {'ms/step':>8} {'examples/s':>10} {'vs ' + recipes[0].name:>9}  objectives")
    for recipe in recipes:
        ms = recipe.ms_per_step()
        rate = recipe.batch_size * 1000 / ms
        print(
            f"{recipe.name:<10} {recipe.batch_size:>5} {ms:>8.1f} {rate:>10.1f} {rate / baseline:>8.2f}x  "
            f"{recipe.describe_objectives()}"
        )


def quiet_lightning() -> None:
    """Keeps the four configs' instantiation chatter (seeding, accelerators, loggers) out of the figures."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python.*")
    warnings.filterwarnings("ignore", message=".*tensorboardX.*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="a demo run with world/ and features/")
    parser.add_argument("--batches", type=int, default=20, help="training batches built per recipe before timing")
    parser.add_argument("--steps", type=int, default=40, help="timed optimizer steps per recipe")
    args = parser.parse_args()
    quiet_lightning()
    recipes = [build_recipe(name, args.run_dir, args.batches, args.steps) for name in RECIPES]
    for recipe in recipes:
        warm_up(recipe)
    for index in range(args.steps):
        for recipe in recipes:
            recipe.step(index)
    report(recipes)


if __name__ == "__main__":
    main()
