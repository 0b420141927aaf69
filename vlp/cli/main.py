"""The `vlp` command: LightningCLI's fit/validate/test/predict plus a few helper sub-commands.

`vlp fit --config configs/pretrain/oscar.yaml` goes straight to LightningCLI, whose config names the LightningModule and
LightningDataModule by `class_path`. Helper sub-commands (`vlp demo`, ...) are plain functions taking `argv`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lightning.pytorch.cli import LightningCLI

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def _demo(argv: Sequence[str]) -> int:
    from vlp.cli.demo import main as demo_main

    return demo_main(argv)


def _eval(argv: Sequence[str]) -> int:
    from vlp.eval.cli import main as eval_main

    return eval_main(argv)


HELPERS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "demo": (_demo, "run the whole pipeline offline on the built-in synthetic world"),
    "eval": (_eval, "score a results file with a benchmark's official metric: vlp eval vqa ..."),
    "convert": (lambda argv: __import__("vlp.convert.cli", fromlist=["main"]).main(argv), "convert checkpoints"),
    "zero-shot": (
        lambda argv: __import__("vlp.cli.zero_shot", fromlist=["main"]).main(argv),
        "classify images from class names through prompt templates (CLIP-style)",
    ),
    "attention": (
        lambda argv: __import__("vlp.cli.attention", fromlist=["main"]).main(argv),
        "draw a model's cross-modal attention on one image and one text",
    ),
    "vocab": (
        lambda argv: __import__("vlp.cli.vocab", fromlist=["main"]).main(argv),
        "report a vocabulary's coverage of a corpus; build or extend one for it",
    ),
}


def _usage() -> str:
    lines = ["usage: vlp {fit,validate,test,predict} --config CONFIG.yaml [...]", "       vlp HELPER [...]", ""]
    lines += ["LightningCLI sub-commands: " + ", ".join(LIGHTNING_SUBCOMMANDS), "", "helpers:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in HELPERS.items()]
    return "\n".join(lines)


def lightning_cli(argv: Sequence[str], run: bool = True) -> LightningCLI:
    """LightningCLI with the model and data module chosen by `class_path` in the config (subclass mode); `run=False`
    parses and instantiates without running a subcommand.

    OmegaConf interpolation is resolved once every file and flag is parsed (jsonargparse's `omegaconf+` mode, with
    absolute paths such as `${trainer.default_root_dir}`): `--trainer.default_root_dir X` moves a checkpoint `dirpath`
    the file derives from it, as a user of the file expects. vlp's own resolvers (`vlp.cli.resolvers`, e.g.
    `${vlp.feature_dim:STORE}`) are available. Fitting in bf16 on a CPU without bf16 units warns first
    (`vlp.train.precision`).
    """
    from jsonargparse import set_parsing_settings
    from lightning.pytorch import LightningDataModule, LightningModule
    from lightning.pytorch.cli import LightningCLI

    from vlp.cli.resolvers import register_resolvers

    # Defined here, not at module level: Lightning is imported lazily so that `vlp --help` and the helpers start fast.
    class VLPCLI(LightningCLI):
        def before_fit(self) -> None:
            from lightning.pytorch.accelerators import CPUAccelerator

            from vlp.train.precision import cpu_flags, warn_if_bf16_is_slow

            on_cpu = isinstance(self.trainer.accelerator, CPUAccelerator)
            warn_if_bf16_is_slow(str(self.trainer.precision), "cpu" if on_cpu else "other", cpu_flags())

    register_resolvers()
    # The configs write `${trainer.default_root_dir}`, not `${..default_root_dir}`: omegaconf+ reads them as absolute.
    set_parsing_settings(omegaconf_absolute_to_relative_paths=True)
    return VLPCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        parser_kwargs={"parser_mode": "omegaconf+"},
        args=list(argv),
        run=run,
    )


def _run_lightning(argv: list[str]) -> int:
    """Runs a LightningCLI sub-command; an error that comes from what the user gave (a config, a store, a checkpoint,
    a data file, which vlp names in its message) is reported in one line (`vlp.cli.errors.report_error`)."""
    from omegaconf.errors import OmegaConfBaseException

    from vlp.cli.errors import quiet_dependencies, report_error
    from vlp.store.schema import RegionStoreError

    quiet_dependencies()
    try:
        lightning_cli(argv)
    except (OmegaConfBaseException, FileNotFoundError, KeyError, ValueError, RegionStoreError) as error:
        configs = [argv[i + 1] for i, flag in enumerate(argv[:-1]) if flag in ("--config", "-c")]
        return report_error(f"vlp {argv[0]}" + (f" ({', '.join(configs)})" if configs else ""), error, argv[0])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `vlp` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command in LIGHTNING_SUBCOMMANDS:
        return _run_lightning(argv)
    if command in HELPERS:
        return HELPERS[command][0](rest)
    print(f"vlp: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
