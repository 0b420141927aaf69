"""The warning before training in bf16 on a CPU without bf16 units, from the CPU's flags."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from vlp.train.precision import cpu_flags, warn_if_bf16_is_slow


def test_flags_are_read_from_cpuinfo(tmp_path: Path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse2 avx2 amx_bf16\n\nflags : other\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("precision", "accelerator", "flags", "warns"),
    [
        ("bf16-mixed", "cpu", {"avx2"}, True),
        ("bf16-true", "cpu", {"avx2", "fma"}, True),
        ("bf16-mixed", "cpu", {"avx2", "amx_bf16"}, False),
        ("bf16-mixed", "cpu", {"avx512f", "avx512_bf16"}, False),
        ("bf16-mixed", "cpu", None, False),  # unknown: no guess
        ("32-true", "cpu", {"avx2"}, False),
        ("bf16-mixed", "other", {"avx2"}, False),  # a GPU run
    ],
)
def test_warns_only_for_bf16_on_a_cpu_without_bf16_units(precision, accelerator, flags, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_if_bf16_is_slow(precision, accelerator, flags) is warns
    assert len(caught) == int(warns)
    if warns:
        assert "set --trainer.precision 32-true" in str(caught[0].message)
