"""Whether bf16 pays on this machine's CPU: without bf16 matrix units a bf16 matmul takes a slow path, tens of times
slower than fp32 (0.6 against 53 GFLOP/s measured on an AVX2 EPYC), so `bf16-mixed` on such a CPU is a mistake worth
a warning before a run starts."""

from __future__ import annotations

import warnings
from pathlib import Path

# /proc/cpuinfo flags of CPUs with bf16 matrix or vector units (Intel AMX, AVX-512 BF16).
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU's feature flags, or None where the file does not say (another OS)."""
    if not cpuinfo.is_file():
        return None
    for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


def warn_if_bf16_is_slow(precision: str, accelerator: str, flags: set[str] | None) -> bool:
    """Warns when training in bf16 on a CPU that has none of `BF16_FLAGS`; returns whether it warned.

    Args:
        precision: the trainer's precision ("bf16-mixed", "32-true", ...).
        accelerator: "cpu" or another (only the CPU is checked).
        flags: `cpu_flags()`; None (unknown) never warns.
    """
    if accelerator != "cpu" or not precision.startswith("bf16") or flags is None:
        return False
    if any(flag in flags for flag in BF16_FLAGS):
        return False
    warnings.warn(
        f"precision {precision} on a CPU without bf16 units (no {' or '.join(BF16_FLAGS)} flag): bf16 matmuls run "
        "tens of times slower than fp32 here; set --trainer.precision 32-true",
        stacklevel=2,
    )
    return True
