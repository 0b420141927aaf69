"""`vlp attention`: draws the cross-modal attention of a model on one image and one text.

```
vlp attention --model runs/demo/pretrain/oscar/pretrained --store runs/demo/features/regions.h5 --image-id 75 \
    --text "a green star left of a small red circle" --out attention.png [--layer -1] [--head 3] \
    [--image-root runs/demo/world/images | --image path.png] [--tag-attributes]
```
The input is laid out as in training, `[CLS] text [SEP] tags [SEP] regions`. The picture holds two heat maps of the
chosen layer (default the last), heads averaged or one head: how much each text token (caption, then tags) attends
each region, and each region each text token. Given the image (`--image`, or `--image-root` holding a file named by
the id, e.g. `COCO_val2014_000000000075.jpg` or `75.png`), a third panel draws its boxes shaded by the attention the
caption's words pay them. The region each caption word attends most is printed too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

# Image files `--image-root` looks at.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def find_image(root: Path, image_id: str) -> Path:
    """The file under `root` (recursively) named by `image_id`: `<id>.<ext>`, or COCO's `<prefix>_<12-digit id>.<ext>`.

    Raises:
        ValueError: naming the folder when none or several files match.
    """
    if not root.is_dir():
        raise ValueError(f"{root}: no such image folder")
    padded = f"_{int(image_id):012d}" if image_id.isdigit() else None
    found = [
        path
        for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES
        and (path.stem == image_id or (padded is not None and path.stem.endswith(padded)))
    ]
    if len(found) != 1:
        what = "no file" if not found else f"{len(found)} files ({', '.join(p.name for p in found[:3])})"
        raise ValueError(f"{root}: {what} named by image id {image_id!r} (<id>.jpg or <prefix>_<12-digit id>.jpg)")
    return found[0]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vlp attention", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a vlp model folder (pretrained or finetuned)")
    parser.add_argument("--store", required=True, help="the region store holding the image")
    parser.add_argument("--image-id", required=True, help="the image's id in the store")
    parser.add_argument("--text", required=True, help="the caption or question")
    parser.add_argument("--out", type=Path, default=Path("attention.png"), help="the PNG to write")
    parser.add_argument("--layer", type=int, default=-1, help="encoder layer, negative from the last (default -1)")
    parser.add_argument("--head", type=int, help="one attention head (default: all heads averaged)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--image", type=Path, help="the image file, to draw the boxes on it")
    source.add_argument("--image-root", type=Path, help="a folder holding the image file, named by its id")
    parser.add_argument("--tag-attributes", action="store_true", help="tags led by attribute names (as in training)")
    parser.add_argument("--no-tags", action="store_true", help="leave the tags out (UNITER-style models)")
    parser.add_argument("--max-regions", type=int, default=50, help="regions of the image (default 50)")
    parser.add_argument("--max-tokens", type=int, default=70, help="text budget, tags included (default 70)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Draws the picture; returns the exit status."""
    args = _parser().parse_args(argv)
    import numpy as np
    import torch
    from PIL import Image

    from vlp.convert.folder import load_pretrained
    from vlp.data.padding import pad_regions, pad_texts
    from vlp.data.regions import RegionReader
    from vlp.data.tokenizer import WordPieceTokenizer
    from vlp.model.attention_maps import attention_probabilities
    from vlp.plots.attention import CrossAttention, attention_figure, save_figure
    from vlp.store import RegionStore
    from vlp.world import tokenize_caption

    try:
        bundle = load_pretrained(args.model)
        tokenizer = WordPieceTokenizer(args.model)
        reader = RegionReader(args.max_regions, bundle.config.region_style, args.tag_attributes)
        reader.require(args.store, [args.image_id], args.store)
        image = reader.read(args.store, args.image_id)
        image_path = find_image(args.image_root, args.image_id) if args.image_root else args.image
        if image_path is not None and not image_path.is_file():
            raise ValueError(f"{image_path}: no such image file")
        heads = bundle.config.num_heads
        if args.head is not None and not 0 <= args.head < heads:
            raise ValueError(f"--head {args.head} is out of range: the model has {heads} heads")
        encoded = tokenizer.encode_pair(
            tokenize_caption(args.text), None if args.no_tags else image.tag_words, args.max_tokens
        )
        regions = pad_regions([image])
        regions.labels = None
        probabilities = attention_probabilities(
            bundle.model, pad_texts([encoded], tokenizer.pad_id), regions, args.layer
        )[0]
    except (ValueError, KeyError, OSError) as error:
        print(f"vlp attention: error: {error}", file=sys.stderr)
        return 1
    chosen = probabilities.mean(dim=0) if args.head is None else probabilities[args.head]  # [L, L]
    special = {tokenizer.cls_id, tokenizer.sep_id}
    text_positions = [i for i, token in enumerate(encoded.input_ids) if token not in special]
    caption_length = sum(encoded.token_type_ids[i] == 0 for i in text_positions)
    region_positions = torch.arange(len(image.tags)) + len(encoded.input_ids)
    rows, columns = torch.tensor(text_positions), region_positions
    region_labels = [
        f"{k} {' '.join([*(image.attributes[k] if image.attributes else []), tag])}" for k, tag in enumerate(image.tags)
    ]
    layer = args.layer % len(bundle.model.encoder.layers)
    attention = CrossAttention(
        text_to_region=chosen[rows][:, columns].numpy(),
        region_to_text=chosen[columns][:, rows].numpy(),
        tokens=tokenizer.tokens([encoded.input_ids[i] for i in text_positions]),
        caption_length=caption_length,
        regions=region_labels,
        title=f"image {args.image_id}: layer {layer}, {'heads averaged' if args.head is None else f'head {args.head}'}",
    )
    pixels = boxes = None
    if image_path is not None:
        with Image.open(image_path) as opened:
            pixels = np.asarray(opened.convert("RGB"))
        height, width = RegionStore(args.store).image_size(args.image_id)
        boxes = image.boxes * np.array([pixels.shape[1] / width, pixels.shape[0] / height] * 2, dtype=np.float32)
    written = save_figure(attention_figure(attention, pixels, boxes), args.out)
    for token, row in zip(attention.tokens[:caption_length], attention.text_to_region, strict=False):
        print(f"{token:>12} -> region {region_labels[int(row.argmax())]} ({row.max():.2f})")
    print(f"attention map written to {written}")
    return 0
