"""The `extract-features` command: extract, import, inspect and draw region stores.

    extract-features run --config configs/features/given_boxes.yaml --input data/instances_val.json \\
        --image-root data/images --output runs/feats/val.h5 [--device cuda --processes 0] [key=value ...]
    extract-features run --config configs/features/torchvision_frcnn.yaml --input photos/ --output photos.h5 \\
        backend.init_args.weights=fasterrcnn_resnet50_fpn_coco.pth
    extract-features import-butd trainval_36.tsv.0 trainval_36.tsv.1 --output butd.h5 [--objects-vocab ...]
    extract-features import-vinvl --features features.tsv --labels predictions.tsv [--hw hw.tsv] --output vinvl.h5
    extract-features inspect runs/feats/val.h5
    extract-features draw runs/feats/val.h5 --ids 42 139 --images data/instances_val.json --out runs/draw
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from features.config import ConfigError, load_config, to_yaml
from features.importers.tsv import TsvFormatError, count_rows
from features.inputs import DuplicateImageIdError
from features.progress import Progress
from vlp.cli.errors import report_error
from vlp.store import RegionStoreError

if TYPE_CHECKING:  # the importers load on demand, like every subcommand's code
    from features.importers.butd_tsv import ButdTsv
    from features.importers.vinvl_tsv import VinvlTsv

RUN_EPILOG = """\
Image ids: a COCO json's `id`; for a folder, the path relative to it without extension (`val/0001.jpg` -> `val/0001`);
for a list file (`path` or `path<TAB>id` per line), the explicit id or the path without extension.

Overrides are OmegaConf dotlist entries after the flags, e.g. `run.batch_size=16 backend.init_args.min_boxes=36`;
every key is validated. Settings that shape the features are recorded in the store's provenance; a run started again
with the same settings resumes (committed images are skipped). Shards: `--shard-index i --shard-count n` on n machines,
`--processes N` local processes (0: one per GPU); each writes OUTPUT_STEM.<k>-of-<total>.h5, read as one store.
Undecodable images are listed in <shard>.failures.jsonl (image_id, path, reason) and the run goes on.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="extract-features",
        description="Region features into an HDF5 region store: extract from images, import public TSV dumps, "
        "inspect a store, draw its boxes. `extract-features COMMAND --help` tells more.",
        epilog="examples:\n" + __doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="extract features of a folder, list file or COCO json with a backend config",
        description="Extract region features with the backend a config names (configs/features/*.yaml).",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--config", required=True, help="YAML of configs/features/")
    run.add_argument(
        "--input", action="append", help="image folder, list file or COCO-style json (repeat the flag for several)"
    )
    run.add_argument("--output", help="region store path (NAME.h5)")
    run.add_argument("--image-root", help="folder of the relative file names of a json or list file")
    run.add_argument("--device", help="auto, cpu, cuda or cuda:N (run.device)")
    run.add_argument("--processes", type=int, help="local processes, each its own shard (0: one per GPU)")
    run.add_argument("--shard-index", type=int, help="this machine's shard (run.shard_index)")
    run.add_argument("--shard-count", type=int, help="machines sharing the images (run.shard_count)")
    run.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    run.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides (OmegaConf dotlist)")

    butd = commands.add_parser(
        "import-butd",
        help="import bottom-up-attention TSV (plain or LXMERT variant)",
        description="Import BUTD TSV rows (image_id, image_w, image_h, num_boxes, boxes, features) or LXMERT's "
        "(img_id, img_h, img_w, objects_id, objects_conf, attrs_id, attrs_conf, num_boxes, boxes, features).",
    )
    butd.add_argument("tsv", nargs="+", help="TSV file(s), read in order")
    butd.add_argument("--output", required=True, help="region store path")
    butd.add_argument("--objects-vocab", help="objects_vocab.txt naming LXMERT objects_id (1600 VG classes)")
    butd.add_argument("--attributes-vocab", help="attributes_vocab.txt naming LXMERT attrs_id (400 VG attributes)")
    _import_options(butd)

    vinvl = commands.add_parser(
        "import-vinvl",
        help="import VinVL / Oscar TSV (features, labels, image sizes)",
        description="Import VinVL/Oscar TSV: features rows (key, {num_boxes, features}) or (key, num_boxes, base64) "
        "of 2054-d or 2048-d float32; label rows (key, [{rect, class, conf, attributes, attr_scores}]); "
        "hw rows (key, [{height, width}]). See features/importers/vinvl_tsv.py for the rules.",
    )
    vinvl.add_argument("--features", help="features TSV")
    vinvl.add_argument("--labels", help="labels / predictions TSV")
    vinvl.add_argument("--hw", help="image-size TSV")
    vinvl.add_argument("--numeric-ids", action="store_true", help="store ids as the trailing integer of each key")
    vinvl.add_argument("--output", required=True, help="region store path")
    _import_options(vinvl)

    inspect = commands.add_parser("inspect", help="summarise a store", description="Summarise a region store.")
    inspect.add_argument("store", nargs="+", help="store file, shard name, folder of shards, or files")
    inspect.add_argument("--top", type=int, default=20, help="most frequent labels and attributes shown")

    draw = commands.add_parser(
        "draw", help="draw boxes and tags of chosen images (PNG)", description="Draw stored boxes and tags as PNGs."
    )
    draw.add_argument("store", help="store file, shard name or folder of shards")
    draw.add_argument("--ids", nargs="+", required=True, help="image ids to draw")
    draw.add_argument("--images", nargs="+", help="image folder, list file or COCO json (default: grey canvases)")
    draw.add_argument("--image-root", help="folder of the relative file names of a json or list file")
    draw.add_argument("--out", required=True, help="output folder")
    draw.add_argument("--max-boxes", type=int, default=36, help="best-scoring regions drawn per image")
    draw.add_argument(
        "--min-side", type=int, default=0, help="enlarge smaller images to this longer side, so tags stay legible"
    )
    return parser


def _import_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--if-exists", choices=("resume", "error", "overwrite"), default="resume")
    parser.add_argument("--progress", choices=("auto", "bar", "log", "none"), default="auto")


def _run(args: argparse.Namespace) -> int:
    from features.extract import run_extraction
    from features.pipeline import describe

    flags = {
        "input": args.input[0] if args.input and len(args.input) == 1 else args.input,
        "output": args.output,
        "image_root": args.image_root,
        "run.device": args.device,
        "run.processes": args.processes,
        "run.shard_index": args.shard_index,
        "run.shard_count": args.shard_count,
    }
    config = load_config(args.config, args.overrides, {k: v for k, v in flags.items() if v is not None})
    if args.print_config:
        print(to_yaml(config))
        return 0
    print(describe(run_extraction(config)))
    return 0


def _import_butd(args: argparse.Namespace) -> int:
    from features.importers.butd_tsv import ButdTsv

    return _import_dump(args, ButdTsv(args.tsv, args.objects_vocab, args.attributes_vocab), args.tsv)


def _import_vinvl(args: argparse.Namespace) -> int:
    from features.importers.vinvl_tsv import VinvlTsv

    dump = VinvlTsv(args.features, args.labels, args.hw, numeric_ids=args.numeric_ids)
    return _import_dump(args, dump, [dump.main_file])


def _import_dump(args: argparse.Namespace, dump: ButdTsv | VinvlTsv, rows: Sequence[str | Path]) -> int:
    """Imports a dump's images into the store `args.output`, counting progress over the rows of the files `rows`."""
    from features.importers.writing import import_into_store

    summary = import_into_store(
        args.output,
        dump.feature_dim,
        dump.images,
        provenance=dump.provenance(),
        max_attributes_per_region=dump.max_attributes_per_region,
        total=count_rows(rows),
        if_exists=args.if_exists,
        progress=Progress("import", args.progress),
    )
    print(summary.describe())
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from features.summary import summarize

    print(summarize(args.store[0] if len(args.store) == 1 else args.store).describe(top=args.top))
    return 0


def _draw(args: argparse.Namespace) -> int:
    from features.draw import draw_images

    written = draw_images(
        args.store, args.ids, args.out, args.images, args.image_root, args.max_boxes, min_side=args.min_side
    )
    print("\n".join(str(path) for path in written))
    return 0


COMMANDS = {"run": _run, "import-butd": _import_butd, "import-vinvl": _import_vinvl, "inspect": _inspect, "draw": _draw}
# Errors that come from what the user asked for, reported as one line rather than a traceback.
USER_ERRORS = (
    ConfigError,
    DuplicateImageIdError,
    FileNotFoundError,
    RegionStoreError,
    TsvFormatError,
    KeyError,
    ValueError,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `extract-features` console script; returns the exit status."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except USER_ERRORS as error:
        return report_error(f"extract-features {args.command}", error)
    except BrokenPipeError:
        # The reader went away (`inspect ... | head`): nothing is lost, so end quietly. Python would otherwise report
        # the pipe again when it flushes stdout at exit, hence the redirect.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
