"""`torch.compile` on the pretraining step: does it pay?

The BERT-sized pretraining step of `pretrain_step_speed.py` (masked tokens + contrastive, backward, AdamW), with
`VLModel` eager and compiled (`torch.compile(model, dynamic=True)`, inductor), on the same pre-built batches. The
model packs each batch's real tokens (`vlp.model.packing`), so the token count changes from batch to batch; the
layout's index maps come from `nonzero`, a data-dependent shape that splits the compiled graph in pieces. What this
prints, measured in one run:

- the compile cost: the first pass over the batches, compiled, against the same pass eager (every new shape may
  compile again);
- the step after warm-up: eager and compiled alternate batch by batch, so a machine shared with other work slows both
  alike; medians compared;
- how many graphs dynamo built, and that both give the same losses.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/compile_speed.py [--layers 2] [--batch-size 8] [--batches 4]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch._dynamo
from demo_training import demo_optimizer, train_step_ms
from pretrain_step_speed import OBJECTIVES, WORKLOADS, make_batch

from vlp.data.batch import PretrainBatch
from vlp.model import VLConfig
from vlp.pretrain import PretrainModule
from vlp.pretrain.compute import compute_objectives
from vlp.pretrain.mixing import ObjectiveWeights


def losses(module: PretrainModule, batch: PretrainBatch) -> list[float]:
    """The objectives' losses of one batch, without a step."""
    with torch.no_grad():
        outputs = compute_objectives(module.model, module.heads, batch, OBJECTIVES, True, None, None)
    return [float(outputs[name].loss) for name in OBJECTIVES]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=4, help="distinct batches per workload (distinct shapes)")
    parser.add_argument("--rounds", type=int, default=2, help="timed passes over the batches after warm-up")
    args = parser.parse_args(argv)
    config = VLConfig(
        vocab_size=30522, num_layers=args.layers, region_feature_dim=2048, hidden_dropout=0.0, attention_dropout=0.0
    )
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, {args.layers} layers, batch {args.batch_size}")
    torch.manual_seed(0)
    module = PretrainModule(config, ObjectiveWeights(mlm=1.0, contrastive=1.0), contrastive_classes=2).train()
    optimizer = demo_optimizer(module, 1000)
    eager = module.model
    compiled = torch.compile(eager, dynamic=True)
    for workload in WORKLOADS:
        batches = [make_batch(workload, config, args.batch_size, seed=seed) for seed in range(args.batches)]
        first: dict[str, float] = {}
        for name, model in (("eager", eager), ("compiled", compiled)):
            module.model = model
            started = time.perf_counter()
            for batch in batches:
                train_step_ms(module, optimizer, batch, OBJECTIVES)
            first[name] = time.perf_counter() - started
        times: dict[str, list[float]] = {"eager": [], "compiled": []}
        for _ in range(args.rounds):
            for batch in batches:
                for name, model in (("eager", eager), ("compiled", compiled)):
                    module.model = model
                    times[name].append(train_step_ms(module, optimizer, batch, OBJECTIVES))
        module.model = eager
        reference = losses(module, batches[0])
        module.model = compiled
        difference = max(abs(a - b) for a, b in zip(reference, losses(module, batches[0]), strict=True))
        module.model = eager
        eager_ms, compiled_ms = (statistics.median(times[name]) for name in ("eager", "compiled"))
        graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        print(
            f"{workload}: first pass over {args.batches} batches {first['compiled']:.0f} s compiled vs "
            f"{first['eager']:.1f} s eager; then {compiled_ms:.0f} vs {eager_ms:.0f} ms a step "
            f"({eager_ms / compiled_ms:.2f}x); {graphs} graphs so far; losses differ by {difference:.1e}",
            flush=True,
        )


if __name__ == "__main__":
    main()
