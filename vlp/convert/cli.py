"""`vlp convert`: checkpoint conversion between HF BERT, Oscar/VinVL, UNITER and vlp folders.

```
vlp convert --from oscar --to vlp checkpoint-2000000/ oscar-vlp/
vlp convert --from hf-bert --to vlp bert-base-uncased/ bert-vlp/ --region-feature-dim 2048
vlp convert --from uniter --to vlp uniter-base.pt uniter-vlp/ --config config/uniter-base.json --verify
vlp convert --from vlp --to oscar oscar-vlp/ oscar-again/
```
Every key that is missing from the source or that nothing maps is printed; the conversion fails unless each is
allowed by prefix (`--allow-missing heads.classifier`, `--allow-unexpected nlvr2_output`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vlp.convert.base import Converted

SOURCES = ("hf-bert", "oscar", "uniter", "vlp")
TARGETS = ("vlp", "oscar", "uniter")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vlp convert", description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="source_format", choices=SOURCES, required=True, help="format of SRC")
    parser.add_argument("--to", dest="target_format", choices=TARGETS, required=True, help="format of DST")
    parser.add_argument("source", type=Path, metavar="SRC", help="checkpoint folder (or a UNITER .pt file)")
    parser.add_argument("destination", type=Path, metavar="DST", help="output folder")
    parser.add_argument("--config", type=Path, help="UNITER's model config JSON when SRC is a .pt file")
    hf = parser.add_argument_group("hf-bert sources: the new region embeddings")
    hf.add_argument("--region-style", choices=("oscar", "uniter"), default="oscar")
    hf.add_argument("--region-feature-dim", type=int, default=2048)
    hf.add_argument("--no-region-layernorm", action="store_true", help="oscar style without the region LayerNorm")
    parser.add_argument(
        "--allow-missing",
        action="append",
        default=[],
        metavar="PREFIX",
        help="vlp-name prefix that may be missing from SRC (stays freshly initialised); repeatable",
    )
    parser.add_argument(
        "--allow-unexpected", action="append", default=[], metavar="PREFIX", help="SRC-name prefix that may go unused"
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="compare the converted model with the original architecture on random inputs",
    )
    return parser


def _read(args: argparse.Namespace) -> Converted:
    # Imported here: `vlp convert --help` must not wait for torch.
    from vlp.convert.folder import read_folder
    from vlp.convert.hf_bert import read_hf_bert
    from vlp.convert.oscar import read_oscar
    from vlp.convert.uniter import read_uniter

    if not args.source.exists():
        raise FileNotFoundError(f"{args.source} does not exist")
    if args.source_format == "hf-bert":
        return read_hf_bert(args.source, args.region_style, args.region_feature_dim, not args.no_region_layernorm)
    if args.source_format == "oscar":
        return read_oscar(args.source)
    if args.source_format == "uniter":
        return read_uniter(args.source, args.config)
    return read_folder(args.source)


def _convert(args: argparse.Namespace) -> None:
    from vlp.convert.folder import write_folder
    from vlp.convert.oscar import write_oscar
    from vlp.convert.uniter import write_uniter

    converted = _read(args)
    for line in converted.report.lines():
        print(line)
    bundle = converted.build(args.allow_missing, args.allow_unexpected)
    if args.target_format == "vlp":
        write_folder(bundle, args.destination, tokenizer_from=args.source)
    elif args.target_format == "oscar":
        write_oscar(bundle, args.destination, tokenizer_from=args.source)
    else:
        write_uniter(bundle, args.destination, tokenizer_from=args.source)
    heads = ", ".join(f"{name} ({spec.cls.__name__})" for name, spec in converted.heads.items()) or "none"
    print(f"wrote {args.target_format} checkpoint to {args.destination} (heads: {heads})")
    if not args.verify:
        return
    from vlp.convert.verify import VERIFIABLE, verify  # imports transformers for the reference architectures

    if args.source_format not in VERIFIABLE:
        print(f"--verify: nothing to compare a {args.source_format} source with")
        return
    differences = verify(bundle, args.source_format, args.source)
    print(
        "largest difference from the original architecture: "
        + ", ".join(f"{name} {value:.3g}" for name, value in differences.items())
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `vlp convert`; returns the exit status: 1, with one line naming the file or key at fault, when the source
    cannot be read or does not match its format, whether that shows while reading or while building."""
    args = _parser().parse_args(argv)
    try:
        _convert(args)
    except (OSError, ValueError) as error:  # CheckpointMismatchError and CheckpointFileError are ValueErrors
        print(f"vlp convert: error: {error}", file=sys.stderr)
        return 1
    return 0
