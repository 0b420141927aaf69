"""`vlp eval retrieval`: Recall@1/5/10 both ways and RSUM of a rankings file, against Karpathy's split file.

Rankings are what `vlp predict` writes for retrieval:
`{"image_to_text": [{"image_id", "caption_ids": [top 10, best first]}], "text_to_image": [{"caption_id", "image_ids":
[top 10]}]}`, caption ids being the split file's `sentids`. An image query is a hit at K when any of its captions is
among its top K; a caption query when its image is. With `--folds 5` (COCO's 1K test) the split's images, in file
order, form five folds of equal size, each query may rank only candidates of its fold, and the recalls are the mean
over the folds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from vlp.data.karpathy import SplitImage, fold_of, read_split_file
from vlp.eval.json_files import FormatError, entries, field, load_json, quote_ids
from vlp.metrics.retrieval import RetrievalRecall, average

LAYOUT = (
    '{"image_to_text": [{"image_id", "caption_ids": [...]}], "text_to_image": [{"caption_id", "image_ids": [...]}]}'
)


@dataclass(frozen=True)
class RankingsFile:
    """A rankings file's two directions, ids as in the split file (image ids as strings).

    Attributes:
        image_to_text: image id -> its ranked caption ids (sentids).
        text_to_image: caption id -> its ranked image ids.
    """

    image_to_text: dict[str, list[int]]
    text_to_image: dict[int, list[str]]


def _image_id(path: Path, where: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FormatError(f"{path}: {where} has image id {value!r}, expected an integer or a string")
    return str(value)


def read_rankings(path: Path) -> RankingsFile:
    """Reads a rankings file.

    Raises:
        FormatError: naming the file and entry, for another layout or a query ranked twice.
    """
    content = load_json(path)
    if not isinstance(content, dict):
        raise FormatError(f"{path} is not a retrieval rankings file: expected {LAYOUT}")
    image_to_text: dict[str, list[int]] = {}
    for index, entry in enumerate(entries(path, content, "image_to_text", LAYOUT, "retrieval rankings")):
        where = f"image_to_text[{index}]"
        image = _image_id(path, where, entry.get("image_id"))
        if image in image_to_text:
            raise FormatError(f"{path}: {where} ranks image {image} a second time")
        ranked = field(path, f"{where} (image {image})", entry, "caption_ids", list)
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in ranked):
            raise FormatError(f"{path}: {where} (image {image}) has caption ids that are not all integers")
        image_to_text[image] = ranked
    text_to_image: dict[int, list[str]] = {}
    for index, entry in enumerate(entries(path, content, "text_to_image", LAYOUT, "retrieval rankings")):
        where = f"text_to_image[{index}]"
        caption = field(path, where, entry, "caption_id", int)
        if caption in text_to_image:
            raise FormatError(f"{path}: {where} ranks caption {caption} a second time")
        ranked = field(path, f"{where} (caption {caption})", entry, "image_ids", list)
        text_to_image[caption] = [_image_id(path, f"{where} (caption {caption})", value) for value in ranked]
    return RankingsFile(image_to_text, text_to_image)


def _check_ids(
    rankings: RankingsFile, images: Sequence[SplitImage], fold: dict[str, int], results: Path, split_file: Path
) -> None:
    """Every query of the split is ranked, no other, and every candidate is of the query's fold.

    Raises:
        FormatError: naming the files and the ids at fault.
    """
    caption_image = {sentid: image.image_id for image in images for sentid in image.sentids}
    for direction, queries, known in (
        ("image_to_text", rankings.image_to_text, fold),
        ("text_to_image", rankings.text_to_image, caption_image),
    ):
        unknown = sorted(str(query) for query in queries if query not in known)
        if unknown:
            raise FormatError(
                f"{results}: {direction} ranks queries that the split of {split_file} does not have: "
                f"{quote_ids(unknown)}"
            )
        missing = sorted(str(query) for query in known if query not in queries)
        if missing:
            raise FormatError(
                f"{results}: {direction} has no ranking for queries of {split_file}: {quote_ids(missing)}"
            )
    for image, ranked in rankings.image_to_text.items():
        wrong = [str(c) for c in ranked if c not in caption_image or fold[caption_image[c]] != fold[image]]
        if wrong:
            raise FormatError(f"{results}: image {image} ranks captions outside its split or fold: {quote_ids(wrong)}")
    for caption, ranked_images in rankings.text_to_image.items():
        wrong = [i for i in ranked_images if i not in fold or fold[i] != fold[caption_image[caption]]]
        if wrong:
            raise FormatError(
                f"{results}: caption {caption} ranks images outside its split or fold: {quote_ids(wrong)}"
            )


def _hits(rows: Sequence[Sequence[bool]]) -> torch.Tensor:
    """Bool[Q, longest] the hit lists, padded with misses."""
    width = max(1, *(len(row) for row in rows))
    hits = torch.zeros(len(rows), width, dtype=torch.bool)
    for index, row in enumerate(rows):
        hits[index, : len(row)] = torch.tensor(row, dtype=torch.bool)
    return hits


def score_rankings(rankings: RankingsFile, images: Sequence[SplitImage], folds: int = 1) -> dict[str, float]:
    """Recall@1/5/10 both ways and `rsum` in percent, the mean over `folds` folds of the split's images."""
    fold = {image.image_id: fold_of(position, len(images), folds) for position, image in enumerate(images)}
    caption_image = {sentid: image.image_id for image in images for sentid in image.sentids}
    recall, results = RetrievalRecall(), []
    query = {image.image_id: number for number, image in enumerate(images)}
    for current in range(folds):
        members = [image for image in images if fold[image.image_id] == current]
        by_image = [
            [caption_image[c] == image.image_id for c in rankings.image_to_text[image.image_id]] for image in members
        ]
        recall.update("image_to_text", _hits(by_image), torch.tensor([query[image.image_id] for image in members]))
        sentids = [sentid for image in members for sentid in image.sentids]
        by_text = [[candidate == caption_image[s] for candidate in rankings.text_to_image[s]] for s in sentids]
        recall.update("text_to_image", _hits(by_text), torch.tensor(sentids))
        results.append(recall.compute())
        recall.reset()
    return average(results)


def main(argv: Sequence[str]) -> int:
    """`vlp eval retrieval`: prints the recalls; with `--output`, also writes them as json. Returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="vlp eval retrieval", description="Recall@1/5/10 both ways and RSUM of a retrieval rankings file."
    )
    parser.add_argument(
        "--split-file", type=Path, required=True, help="Karpathy's dataset_coco.json or dataset_flickr30k.json"
    )
    parser.add_argument("--split", default="test", help="the split the rankings cover (default: test)")
    parser.add_argument("--results", type=Path, required=True, help="rankings.json as vlp predict writes it")
    parser.add_argument("--folds", type=int, default=1, help="COCO 1K test: 5 (the mean over five folds of 1,000)")
    parser.add_argument("--output", type=Path, help="where to write the recalls as json")
    args = parser.parse_args(argv)
    try:
        images = read_split_file(args.split_file, [args.split])
        fold_of(0, len(images), args.folds)
        rankings = read_rankings(args.results)
        fold = {image.image_id: fold_of(position, len(images), args.folds) for position, image in enumerate(images)}
        _check_ids(rankings, images, fold, args.results, args.split_file)
    except (FormatError, ValueError) as error:
        print(f"vlp eval retrieval: error: {error}", file=sys.stderr)
        return 1
    scores = score_rankings(rankings, images, args.folds)
    print(f"{len(images)} images, {sum(len(image.sentids) for image in images)} captions, {args.folds} fold(s)")
    for name, value in scores.items():
        print(f"{name:<22} {value:.2f}")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(
            json.dumps({k: round(v, 4) for k, v in scores.items()}, indent=2) + "\n", encoding="utf-8"
        )
    return 0
