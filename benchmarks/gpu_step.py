"""The BERT-base pretraining step on a CUDA GPU: milliseconds per step and model FLOPs utilisation (MFU).

The step of `pretrain_step_speed.py` (Oscar's masked tokens and polluted-tag contrastive, shared forward pass,
backward, AdamW) on the same workloads (`fixed`: 35 text tokens + 50 regions; `mix`: COCO-like lengths), on the GPU,
in fp32 (TF32 matmuls allowed, as Lightning's "32-true" with `torch.set_float32_matmul_precision("high")`) and in bf16
autocast (Lightning's "bf16-mixed"). MFU is the step's useful matrix FLOPs (`pretrain_step_speed.useful_gflop`) per
second over the GPU's bf16 peak, measured in the same run as the best 8192^3 bf16 matmul; `--peak-tflops` adds the
vendor's dense figure (H100 SXM and H200: 989) as a second denominator. Goal: at least 40% MFU on an H100/H200-class
GPU in bf16.

    .venv/bin/python benchmarks/gpu_step.py [--batch-size 32 128] [--steps 20] [--peak-tflops 989]

Exits with a message where no CUDA device is present.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import nullcontext

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from pretrain_step_speed import OBJECTIVES, WORKLOADS, make_batch, useful_gflop

from vlp.model import VLConfig
from vlp.pretrain import PretrainModule
from vlp.pretrain.compute import compute_objectives
from vlp.pretrain.mixing import ObjectiveWeights
from vlp.train.optim import OptimizerSettings, build_optimizer


def matmul_peak_tflops(size: int = 8192, repeats: int = 10) -> float:
    """The best bf16 TFLOP/s of a size^3 matmul on the current device."""
    a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.matmul(a, b)
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / 1000)
    return 2 * size**3 / best / 1e12


def step_ms(module: PretrainModule, optimizer: torch.optim.Optimizer, batch: object, bf16: bool) -> float:
    """Milliseconds of one training step on the GPU (CUDA events around loss, backward and the optimizer step)."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    with torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext():
        outputs = compute_objectives(module.model, module.heads, batch, OBJECTIVES, True, None, None)  # type: ignore[arg-type]
        loss = sum(output.loss for output in outputs.values())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[union-attr]
    optimizer.step()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per setting (after 3 warm-up steps)")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak from its datasheet")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("gpu_step.py: no CUDA device here")
    torch.set_float32_matmul_precision("high")
    peak = matmul_peak_tflops()
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}: bf16 matmul peak {peak:.0f} TFLOP/s (measured)")
    config = VLConfig(
        vocab_size=30522, num_layers=args.layers, region_feature_dim=2048, hidden_dropout=0.0, attention_dropout=0.0
    )
    torch.manual_seed(0)
    module = PretrainModule(config, ObjectiveWeights(mlm=1.0, contrastive=1.0), contrastive_classes=2).cuda().train()
    optimizer, _ = build_optimizer(module, OptimizerSettings(), total_steps=1000)
    spec = f"{'MFU (spec)':>11}" if args.peak_tflops else ""
    print(f"{'workload':<9}{'batch':>6}{'precision':>10}{'ms/step':>9}{'TFLOP/s':>9}{'MFU':>7}{spec}")
    for workload in WORKLOADS:
        for batch_size in args.batch_size:
            cpu_batch = make_batch(workload, config, batch_size, seed=1)
            batch = move_data_to_device(cpu_batch, torch.device("cuda"))
            tflop = useful_gflop(cpu_batch, config) / 1000
            for precision in ("fp32", "bf16"):
                times = [step_ms(module, optimizer, batch, precision == "bf16") for _ in range(args.steps + 3)][3:]
                seconds = statistics.median(times) / 1000
                rate = tflop / seconds
                extra = f"{rate / args.peak_tflops:>11.0%}" if args.peak_tflops else ""
                print(
                    f"{workload:<9}{batch_size:>6}{precision:>10}{seconds * 1000:>9.1f}{rate:>9.1f}{rate / peak:>7.0%}"
                    f"{extra}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
