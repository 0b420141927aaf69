"""`vlp vocab`: how well a word-piece vocabulary covers a corpus, and a vocabulary built or extended for one.

```
vlp vocab report --vocab pretrained/vocab.txt --texts vqa/v2_OpenEnded_mscoco_train2014_questions.json
vlp vocab build --texts captions_train2014.json questions.json --size 8000 --output runs/mine/vocab.txt
vlp vocab build --texts questions.json --extend pretrained/vocab.txt --output runs/mine/vocab.txt
```
A text file is a COCO captions json (`annotations[].caption`), a VQA questions json (`questions[].question`), a json
list of strings, or plain text with one text per line. `--extend` keeps every piece of the base vocabulary at its id and
appends the pieces learned from the texts that it lacks: a model pretrained on the base vocabulary then loads with
`config.vocab_size` set to the new size, the new pieces' embeddings starting fresh.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path


def read_texts(path: Path) -> Iterator[str]:
    """The texts of a corpus file (see the module docstring for the layouts).

    Raises:
        ValueError: naming the file, for json of another layout.
    """
    if path.suffix != ".json":
        with open(path, encoding="utf-8") as file:
            yield from (line.strip() for line in file if line.strip())
        return
    with open(path, encoding="utf-8") as file:
        value = json.load(file)
    if isinstance(value, list) and all(isinstance(text, str) for text in value):
        yield from value
    elif (
        isinstance(value, dict) and isinstance(value.get("annotations"), list) and "caption" in value["annotations"][0]
    ):
        yield from (annotation["caption"] for annotation in value["annotations"])
    elif isinstance(value, dict) and isinstance(value.get("questions"), list):
        yield from (question["question"] for question in value["questions"])
    else:
        raise ValueError(f"{path}: neither COCO captions, VQA questions nor a list of strings")


def _texts(paths: Sequence[Path]) -> Iterator[str]:
    for path in paths:
        yield from read_texts(path)


def extend_vocabulary(base: Path, learned: Path, output: Path) -> tuple[int, int]:
    """Writes `base`'s pieces in their order, then `learned`'s pieces that `base` lacks.

    Returns:
        (pieces of the base, pieces written).
    """
    pieces = base.read_text(encoding="utf-8").splitlines()
    known = set(pieces)
    added = [piece for piece in learned.read_text(encoding="utf-8").splitlines() if piece and piece not in known]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join([*pieces, *added]) + "\n", encoding="utf-8")
    return len(pieces), len(pieces) + len(added)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vlp vocab", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="coverage of a corpus by a vocabulary")
    report.add_argument("--vocab", type=Path, required=True, help="vocab.txt or a folder holding one")
    report.add_argument("--texts", type=Path, nargs="+", required=True, help="corpus files")
    build = commands.add_parser("build", help="train a vocabulary on a corpus, or extend one")
    build.add_argument("--texts", type=Path, nargs="+", required=True, help="corpus files")
    build.add_argument("--output", type=Path, required=True, help="the vocab.txt to write")
    build.add_argument("--size", type=int, default=8000, help="pieces to learn from the texts (default 8000)")
    build.add_argument("--extend", type=Path, metavar="VOCAB", help="keep this vocabulary's pieces and ids, append")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `vlp vocab`; returns the exit status (2, with one line naming the file, for bad input)."""
    args = _parser().parse_args(argv)
    from vlp.cli.errors import report_error
    from vlp.data.coverage import vocabulary_coverage
    from vlp.data.tokenizer import WordPieceTokenizer, train_vocabulary, vocab_file

    try:
        if args.command == "report":
            tokenizer = WordPieceTokenizer(args.vocab)
            print(f"{tokenizer.vocab_path}: {vocabulary_coverage(tokenizer, _texts(args.texts)).describe()}")
            return 0
        if args.extend is None:
            written = train_vocabulary(_texts(args.texts), args.output, args.size)
            print(f"wrote {written} ({len(written.read_text().splitlines())} pieces)")
        else:
            with tempfile.TemporaryDirectory() as scratch:
                learned = train_vocabulary(_texts(args.texts), Path(scratch) / "vocab.txt", args.size)
                before, after = extend_vocabulary(vocab_file(args.extend), learned, args.output)
            print(
                f"wrote {args.output}: the {before} pieces of {args.extend}, then {after - before} new ones; set "
                f"model.init_args.config.vocab_size to {after}"
            )
        tokenizer = WordPieceTokenizer(args.output)
        print(f"{args.output}: {vocabulary_coverage(tokenizer, _texts(args.texts)).describe()}")
    except (OSError, ValueError, KeyError) as error:
        return report_error("vlp vocab", error)
    return 0
