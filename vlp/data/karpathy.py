"""Karpathy's split files as published (`dataset_coco.json`, `dataset_flickr30k.json`: one layout), read with errors
that name the file and the entry at fault.

```json
{"dataset": "coco", "images": [{"split": "test", "filename": "COCO_val2014_000000391895.jpg", "cocoid": 391895,
  "sentids": [770337, ...], "sentences": [{"raw": "A man with a red helmet ...", "sentid": 770337, ...}, ...]}, ...]}
```

An image's id in its region store is its `cocoid` (COCO) or, where the file has none (Flickr30K), its file name
without the extension, as `extract-features` names the images of a folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vlp.eval.json_files import FormatError, entries, field, load_json

LAYOUT = '{"images": [{"split", "filename", "sentids", "sentences": [{"raw", "sentid"}]}]}'
SPLITS = ("train", "restval", "val", "test")


@dataclass(frozen=True)
class SplitImage:
    """One image of a split file.

    Attributes:
        image_id: the image's id in its region store (`cocoid`, or the file name's stem).
        split: Karpathy's split ("train", "restval", "val" or "test").
        sentids: its captions' ids, in the file's order.
        captions: its captions (`raw`), in the same order.
    """

    image_id: str
    split: str
    sentids: tuple[int, ...]
    captions: tuple[str, ...]


def read_split_file(path: str | Path, splits: Sequence[str] | None = None) -> list[SplitImage]:
    """The images of `splits` (all when None) in file order, each with its captions.

    Raises:
        ValueError: a split name that is not one of Karpathy's (train, restval, val, test).
        FormatError: naming the file and the entry at fault: a missing or mistyped field, a sentence id that appears
            twice, an image id that appears twice; or no image in `splits` (a split that a file may lack, as
            Flickr30K lacks restval, is no error while another split has images).
    """
    unknown = sorted(set(splits or ()) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown Karpathy split {', '.join(unknown)}: the splits are {', '.join(SPLITS)}")
    path = Path(path)
    images: list[SplitImage] = []
    seen_images: set[str] = set()
    seen_sentences: set[int] = set()
    used_splits: set[str] = set()
    for index, entry in enumerate(entries(path, load_json(path), "images", LAYOUT, "Karpathy split")):
        where = f"images[{index}]"
        split = field(path, where, entry, "split", str)
        used_splits.add(split)
        if splits is not None and split not in splits:
            continue
        image_id = str(entry["cocoid"]) if "cocoid" in entry else Path(field(path, where, entry, "filename", str)).stem
        if image_id in seen_images:
            raise FormatError(f"{path}: {where} repeats image {image_id}")
        seen_images.add(image_id)
        sentences = field(path, where, entry, "sentences", list)
        sentids, captions = [], []
        for number, sentence in enumerate(sentences):
            place = f"{where}.sentences[{number}]"
            if not isinstance(sentence, dict):
                raise FormatError(f"{path}: {place} is {sentence!r}, expected an object as in {LAYOUT}")
            sentid = field(path, place, sentence, "sentid", int)
            if sentid in seen_sentences:
                raise FormatError(f"{path}: {place} repeats sentid {sentid}")
            seen_sentences.add(sentid)
            sentids.append(sentid)
            captions.append(field(path, place, sentence, "raw", str))
        if not captions:
            raise FormatError(f"{path}: {where} (image {image_id}) has no sentences")
        images.append(SplitImage(image_id, split, tuple(sentids), tuple(captions)))
    if splits is not None and not images:
        raise FormatError(
            f"{path} has no images in splits {', '.join(splits)} (it has {', '.join(sorted(used_splits))})"
        )
    return images


def fold_of(position: int, count: int, folds: int) -> int:
    """The fold of the `position`-th of `count` images split into `folds` consecutive folds of equal size (COCO's 1K
    test: the 5K test images in file order, in five folds of 1,000).

    Raises:
        ValueError: `count` is not a multiple of `folds`.
    """
    if folds < 1 or count % folds:
        raise ValueError(f"{count} images do not split into {folds} folds of equal size")
    return position // (count // folds)
