"""`vlp zero-shot`: classifies the images of a region store from class names through prompt templates (CLIP-style).

```
vlp zero-shot --model runs/demo/finetune/retrieval/finetuned --store runs/demo/features/regions.h5 \
    --classes classes.txt [--templates templates.txt] [--labels instances_test.json] [--rerank 3] [--output out.json]
```
`classes.txt` holds one class name per line, `templates.txt` one template per line with `{}` for the name (default:
"a photo of a {}." and three like it). Labels are a COCO instances json (an image's label is the category of its largest
object) or lines `image_id<TAB>label`; with them only the labelled images are classified and top-1 / top-5 accuracy is
printed. Predictions go to `--output` as `[{"image_id", "classes": [top 5, best first]}]`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def read_lines(path: Path, what: str) -> list[str]:
    """The non-empty lines of a text file.

    Raises:
        ValueError: naming the file when it is missing or holds no line.
    """
    if not path.is_file():
        raise ValueError(f"{path}: no such {what} file")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path} holds no {what}")
    return lines


def read_labels(path: Path) -> dict[str, str]:
    """Image id -> class name, from a COCO instances json (the category of the image's largest object) or
    `image_id<TAB>label` lines.

    Raises:
        ValueError: naming the file and the line or entry at fault.
    """
    if path.suffix == ".json":
        from vlp.eval.json_files import entries, field, load_json

        content = load_json(path)
        layout = '{"categories": [{"id", "name"}], "annotations": [{"image_id", "category_id", "area"}]}'
        names = {
            field(path, f"categories[{i}]", c, "id", int): field(path, f"categories[{i}]", c, "name", str)
            for i, c in enumerate(entries(path, content, "categories", layout, "COCO instances"))
        }
        largest: dict[str, tuple[float, str]] = {}
        for index, entry in enumerate(entries(path, content, "annotations", layout, "COCO instances")):
            where = f"annotations[{index}]"
            image = str(field(path, where, entry, "image_id", int))
            category = field(path, where, entry, "category_id", int)
            if category not in names:
                raise ValueError(f"{path}: {where} has category_id {category}, which categories do not name")
            area = float(field(path, where, entry, "area", int | float))
            if image not in largest or area > largest[image][0]:
                largest[image] = (area, names[category])
        return {image: name for image, (_, name) in largest.items()}
    labels = {}
    for number, line in enumerate(read_lines(path, "label"), start=1):
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected image_id<TAB>label, got {line!r}")
        labels[parts[0].strip()] = parts[1].strip()
    return labels


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vlp zero-shot", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a vlp folder with InfoNCE embedding heads")
    parser.add_argument("--store", required=True, help="the region store of the images")
    parser.add_argument("--classes", type=Path, required=True, help="class names, one per line")
    parser.add_argument("--templates", type=Path, help="prompt templates with {} for the class, one per line")
    parser.add_argument("--labels", type=Path, help="COCO instances json or image_id<TAB>label lines")
    parser.add_argument(
        "--rerank", type=int, default=0, help="re-rank each image's top K classes with the cross-encoder"
    )
    parser.add_argument("--no-tags", action="store_true", help="re-rank without the region tags (UNITER-style models)")
    parser.add_argument("--tag-attributes", action="store_true", help="tags led by attribute names (as in finetuning)")
    parser.add_argument("--max-regions", type=int, default=50, help="regions per image (default 50)")
    parser.add_argument("--max-tokens", type=int, default=70, help="text budget when re-ranking (default 70)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output", type=Path, default=Path("zero_shot.json"), help="predictions json")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the classification; returns the exit status."""
    args = _parser().parse_args(argv)
    import torch
    from tqdm import tqdm

    from vlp.convert.folder import load_pretrained
    from vlp.data.regions import RegionReader
    from vlp.data.tokenizer import WordPieceTokenizer
    from vlp.store import RegionStore
    from vlp.zero_shot import DEFAULT_TEMPLATES, ZeroShotClassifier

    try:
        classes = read_lines(args.classes, "class name")
        templates = read_lines(args.templates, "template") if args.templates else list(DEFAULT_TEMPLATES)
        labels = read_labels(args.labels) if args.labels else {}
        unknown = sorted({label for label in labels.values() if label not in classes})
        if unknown:
            raise ValueError(f"{args.labels} has labels that {args.classes} does not list: {', '.join(unknown[:5])}")
        bundle = load_pretrained(args.model)
        classifier = ZeroShotClassifier(
            bundle, WordPieceTokenizer(args.model), classes, templates, args.max_tokens, args.batch_size
        )
        reader = RegionReader(args.max_regions, bundle.config.region_style, args.tag_attributes)
        image_ids = list(labels) if labels else list(RegionStore(args.store).image_ids)
        reader.require(args.store, image_ids, str(args.labels or args.store))
    except (ValueError, KeyError, OSError) as error:
        print(f"vlp zero-shot: error: {error}", file=sys.stderr)
        return 1
    class_embeddings = classifier.class_embeddings()
    predictions, top1, top5 = [], 0, 0
    with torch.inference_mode():
        for start in tqdm(range(0, len(image_ids), args.batch_size), desc="zero-shot", unit="batch", file=sys.stderr):
            batch = image_ids[start : start + args.batch_size]
            order = classifier.rank(
                [reader.read(args.store, i) for i in batch], class_embeddings, args.rerank, not args.no_tags
            )
            for image_id, ranked in zip(batch, order[:, :5].tolist(), strict=True):
                names = [classes[index] for index in ranked]
                predictions.append({"image_id": int(image_id) if image_id.isdigit() else image_id, "classes": names})
                if image_id in labels:
                    top1 += names[0] == labels[image_id]
                    top5 += labels[image_id] in names
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(predictions), encoding="utf-8")
    print(f"{len(predictions)} images, {len(classes)} classes, {len(templates)} templates -> {args.output}")
    if labels:
        print(f"top-1 accuracy {100 * top1 / len(labels):.2f}\ntop-5 accuracy {100 * top5 / len(labels):.2f}")
    return 0
