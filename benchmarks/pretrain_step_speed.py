"""The BERT-base pretraining step in fp32 and in bf16 autocast, as a share of the machine's matmul peaks.

Oscar's recipe at BERT-base (12 layers, hidden 768, vocabulary 30,522, 2048-d region features): masked tokens and the
polluted-tag contrastive head, one shared forward pass, backward and the AdamW step (`demo_training.train_step_ms`),
on the same pre-built batches in both precisions. Two workloads of batch 32:

- `fixed`: Oscar's padded shapes, 35 text tokens and 50 regions, all real;
- `mix`: COCO-like lengths, captions of 8-20 word pieces and 5-15 tags (text = 3 special tokens + both) and 10-100
  regions, padded to the batch's longest (the model runs the real tokens only).

The peaks are measured in the same run: the best of a few 2048 x 2048 x 2048 matmuls in fp32 and in bf16. Useful
GFLOP/s counts the encoder's matrix products on real tokens (projections, feed-forward, attention scores and
weighting: forward, and twice that for backward), plus the masked-token decoder on masked tokens; element-wise work is
not counted, so the share of the peak is a floor. The two precisions alternate step by step, so a machine shared with
other work slows both alike; the medians are compared.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/pretrain_step_speed.py [--steps 3] [--layers 12] [--threads N] \
        [--profile]

`--profile` then shows where each timed step's time goes (fp32, and bf16 where it was timed): one more step of each
workload and precision under `torch.profiler`, its operators by self CPU time.

CPUs differ (some have bf16 matrix units, AMX; some have none, where bf16 runs slower than fp32): read the printed peaks
before the ratios. Goals on a CPU with bf16 units: fp32 at least 80% of the fp32 peak, bf16 at least 50% of the bf16
peak, and on the mix bf16 at least 3x the fp32 step.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import AbstractContextManager, nullcontext

import torch
from demo_training import demo_optimizer, train_step_ms

from vlp.data.batch import PretrainBatch
from vlp.model import RegionInputs, TextInputs, VLConfig
from vlp.objectives.output import IGNORE_INDEX
from vlp.pretrain import PretrainModule
from vlp.pretrain.mixing import ObjectiveWeights

WORKLOADS = ("fixed", "mix")
OBJECTIVES = ["mlm", "contrastive"]
MASK_PROBABILITY = 0.15


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """The best GFLOP/s of a size^3 matmul in `dtype` over a few tries (after one warm-up). On a CPU without bf16
    support a bf16 matmul falls back to a slow path (below 1 GFLOP/s measured): call it with a small `size` first."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def make_batch(workload: str, config: VLConfig, batch_size: int, seed: int) -> PretrainBatch:
    """A pretraining batch of random ids and features with the workload's lengths, 15% of the text masked."""
    generator = torch.Generator().manual_seed(seed)
    if workload == "fixed":
        text_lengths, region_counts = [35] * batch_size, [50] * batch_size
    else:
        captions = torch.randint(8, 21, (batch_size,), generator=generator)
        tags = torch.randint(5, 16, (batch_size,), generator=generator)
        text_lengths = (3 + captions + tags).tolist()
        region_counts = torch.randint(10, 101, (batch_size,), generator=generator).tolist()
    text_length, region_count = max(text_lengths), max(region_counts)
    text_mask = torch.arange(text_length) < torch.tensor(text_lengths)[:, None]
    region_mask = torch.arange(region_count) < torch.tensor(region_counts)[:, None]
    input_ids = torch.randint(5, config.vocab_size, (batch_size, text_length), generator=generator) * text_mask
    masked = (torch.rand(batch_size, text_length, generator=generator) < MASK_PROBABILITY) & text_mask
    mlm_labels = torch.where(masked, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return PretrainBatch(
        text=TextInputs(input_ids, torch.zeros_like(input_ids), text_mask),
        regions=RegionInputs(
            torch.randn(batch_size, region_count, config.region_feature_dim, generator=generator),
            torch.rand(batch_size, region_count, config.geometry_dim, generator=generator),
            region_mask,
        ),
        mlm_labels=mlm_labels,
        masked_regions=torch.zeros(batch_size, region_count, dtype=torch.bool),
        contrastive_labels=torch.randint(0, 2, (batch_size,), generator=generator),
        matching=None,
        index=torch.arange(batch_size),
        image_ids=[str(i) for i in range(batch_size)],
    )


def useful_gflop(batch: PretrainBatch, config: VLConfig) -> float:
    """GFLOP of the step's matrix products on real tokens: forward, and backward at twice the forward."""
    hidden, inner, layers = config.hidden_size, config.intermediate_size, config.num_layers
    lengths = batch.text.text_mask.sum(1) + batch.regions.mask.sum(1)  # type: ignore[union-attr]
    tokens = float(lengths.sum())
    per_token_layer = 2 * (4 * hidden * hidden + 2 * hidden * inner)
    attention = float((lengths.float() ** 2).sum()) * 2 * 2 * hidden  # scores and weighting, all heads
    region_projection = float(batch.regions.mask.sum()) * 2 * config.region_feature_dim * hidden  # type: ignore[union-attr]
    decoder = float((batch.mlm_labels >= 0).sum()) * 2 * hidden * (hidden + config.vocab_size)
    forward = tokens * per_token_layer * layers + attention * layers + region_projection + decoder
    return 3 * forward / 1e9


def precision_context(precision: str) -> AbstractContextManager[object]:
    """CPU bf16 autocast for "bf16" (Lightning's bf16-mixed), nothing for "fp32"."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def profile_step(
    module: PretrainModule, optimizer: torch.optim.Optimizer, batch: PretrainBatch, precision: str, rows: int
) -> None:
    """Prints the `rows` operators of one training step in `precision` with the most self CPU time."""
    with (
        torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler,
        precision_context(precision),
    ):
        train_step_ms(module, optimizer, batch, OBJECTIVES)
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per precision and workload")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--profile", action="store_true", help="then profile one step of each workload and precision")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = VLConfig(
        vocab_size=30522, num_layers=args.layers, region_feature_dim=2048, hidden_dropout=0.0, attention_dropout=0.0
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, BERT-base with {args.layers} layers, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}",
        flush=True,
    )
    peaks = {"fp32": matmul_peak_gflops(torch.float32)}
    # Probe bf16 small first: where the CPU has no bf16 path, a 2048^3 product would take minutes.
    probe = matmul_peak_gflops(torch.bfloat16, size=256, repeats=2)
    peaks["bf16"] = matmul_peak_gflops(torch.bfloat16) if probe > peaks["fp32"] / 20 else probe
    precisions = ["fp32", "bf16"] if peaks["bf16"] > peaks["fp32"] / 2 else ["fp32"]
    print(
        f"matmul peaks: fp32 {peaks['fp32']:.1f} GFLOP/s, bf16 {peaks['bf16']:.1f} GFLOP/s "
        f"(bf16 {peaks['bf16'] / peaks['fp32']:.2f}x fp32)",
        flush=True,
    )
    if precisions == ["fp32"]:
        print("bf16 matmuls run at less than half the fp32 rate here (no bf16 units): the bf16 step is not timed")
    torch.manual_seed(0)
    module = PretrainModule(config, ObjectiveWeights(mlm=1.0, contrastive=1.0), contrastive_classes=2).train()
    optimizer = demo_optimizer(module, 1000)
    print(f"{'workload':<9}{'precision':>10}{'ms/step':>10}{'GFLOP/s':>10}{'of peak':>9}{'vs fp32':>9}")
    for workload in WORKLOADS:
        batch = make_batch(workload, config, args.batch_size, seed=1)
        gflop = useful_gflop(batch, config)
        times: dict[str, list[float]] = {precision: [] for precision in precisions}
        for step in range(args.steps + 1):  # the first step of each is a warm-up
            for precision in times:
                with precision_context(precision):
                    ms = train_step_ms(module, optimizer, batch, OBJECTIVES)
                if step:
                    times[precision].append(ms)
        fp32_ms = statistics.median(times["fp32"])
        for precision, values in times.items():
            ms = statistics.median(values)
            rate = gflop / (ms / 1000)
            print(
                f"{workload:<9}{precision:>10}{ms:>10.0f}{rate:>10.0f}{rate / peaks[precision]:>8.0%}"
                f"{fp32_ms / ms:>8.2f}x",
                flush=True,
            )
        for precision in times if args.profile else ():
            print(f"where the time of a {workload} {precision} step goes:")
            profile_step(module, optimizer, batch, precision, rows=15)


if __name__ == "__main__":
    main()
