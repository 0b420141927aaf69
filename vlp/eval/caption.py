"""`vlp eval caption`: the COCO caption metrics of a results file, with the COCO caption toolkit's conventions.

Annotations are a COCO `captions_*.json` (`images[]`, `annotations[{"image_id", "caption"}]`); results are what the
evaluation server takes, `[{"image_id", "caption"}]`, one caption per image. Captions are tokenised with the toolkit's
PTB tokenizer (punctuation removed), then scored with its BLEU-1..4, METEOR, ROUGE-L, CIDEr (CIDEr-D) and SPICE
(`pycocoevalcap`; PTB tokenisation, METEOR and SPICE run Java). SPICE needs Stanford CoreNLP models that it downloads
at first use: where they cannot be had it is left out with a one-line note.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlp.eval.json_files import FormatError, entries, field, load_json, quote_ids

METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "SPICE")


def read_references(path: Path) -> dict[int, list[str]]:
    """The reference captions of a COCO captions file, by image id (images without a caption are left out).

    Raises:
        FormatError: naming the file and entry, for a file that is not in the COCO captions layout.
    """
    layout = '{"annotations": [{"image_id": int, "caption": str}, ...]}'
    references: dict[int, list[str]] = {}
    for index, entry in enumerate(entries(path, load_json(path), "annotations", layout, kind="COCO captions")):
        where = f"annotations[{index}]"
        references.setdefault(field(path, where, entry, "image_id", int), []).append(
            field(path, where, entry, "caption", str)
        )
    if not references:
        raise FormatError(f"{path} has no captions")
    return references


def read_captions(path: Path) -> dict[int, str]:
    """A results file: one caption per image id.

    Raises:
        FormatError: naming the file and entry, for another layout or an image captioned twice.
    """
    layout = '[{"image_id": int, "caption": str}, ...]'
    captions: dict[int, str] = {}
    for index, entry in enumerate(entries(path, load_json(path), None, layout, kind="caption")):
        image_id = field(path, f"results[{index}]", entry, "image_id", int)
        if image_id in captions:
            raise FormatError(f"{path}: results[{index}] captions image {image_id} a second time")
        captions[image_id] = field(path, f"results[{index}] (image_id {image_id})", entry, "caption", str)
    return captions


def check_images(captions: dict[int, str], references: dict[int, list[str]], results: Path, annotations: Path) -> None:
    """Every captioned image has references and every referenced image has a caption.

    Raises:
        FormatError: naming both files and the image ids at fault.
    """
    unknown = sorted(image for image in captions if image not in references)
    if unknown:
        raise FormatError(f"{results} captions image ids that {annotations} does not have: {quote_ids(unknown)}")
    missing = sorted(image for image in references if image not in captions)
    if missing:
        raise FormatError(f"{results} has no caption for image ids of {annotations}: {quote_ids(missing)}")


def score_captions(
    captions: dict[int, str], references: dict[int, list[str]], spice: bool = True
) -> tuple[dict[str, float], list[str]]:
    """The toolkit's metrics of one caption per image against its references.

    Returns:
        (the scores by the toolkit's names, notes about metrics left out).
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tokenizer = PTBTokenizer()
    with contextlib.redirect_stdout(io.StringIO()):  # the toolkit prints its progress
        gts = tokenizer.tokenize({image: [{"caption": c} for c in refs] for image, refs in references.items()})
        res = tokenizer.tokenize({image: [{"caption": captions[image]}] for image in references})
    scores: dict[str, float] = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    scores |= {f"Bleu_{n}": float(value) for n, value in enumerate(bleu, start=1)}
    for name, scorer in (("METEOR", Meteor), ("ROUGE_L", Rouge), ("CIDEr", Cider)):
        scores[name] = float(scorer().compute_score(gts, res)[0])
    notes = []
    if spice:
        try:
            from pycocoevalcap.spice.spice import Spice

            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                scores["SPICE"] = float(Spice().compute_score(gts, res)[0])
        except Exception as error:  # SPICE fetches Stanford CoreNLP at first use; offline that fails, and only SPICE
            notes.append(f"SPICE left out: it needs Stanford CoreNLP models it could not get ({type(error).__name__})")
    return scores, notes


def _rounded(value: Any) -> Any:
    return {name: round(score, 6) for name, score in value.items()}


def main(argv: Sequence[str]) -> int:
    """`vlp eval caption`: prints the metrics; with `--output`, also writes them as json. Returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="vlp eval caption", description="COCO caption metrics of a results file [{image_id, caption}, ...]."
    )
    parser.add_argument("--annotations", type=Path, required=True, help="COCO captions json of the split")
    parser.add_argument("--results", type=Path, required=True, help='results json: [{"image_id", "caption"}, ...]')
    parser.add_argument("--output", type=Path, help="where to write the scores as json")
    parser.add_argument("--no-spice", action="store_true", help="leave SPICE out (it is the slowest)")
    args = parser.parse_args(argv)
    try:
        references, captions = read_references(args.annotations), read_captions(args.results)
        check_images(captions, references, args.results, args.annotations)
    except FormatError as error:
        print(f"vlp eval caption: error: {error}", file=sys.stderr)
        return 1
    scores, notes = score_captions(captions, references, spice=not args.no_spice)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{len(captions)} images")
    for name in METRICS:
        if name in scores:
            print(f"{name:<8} {scores[name]:.4f}")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(_rounded(scores), indent=2) + "\n", encoding="utf-8")
    return 0
