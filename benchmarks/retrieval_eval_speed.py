"""How long retrieval evaluation takes in each mode, and what the fast mode gives up.

1. The cross-encoder's pairs per second and the embedding passes' texts and images per second at BERT-base size
   (12 layers, hidden 768; captions of 12 pieces, 30 tag pieces, 50 regions of 2048-d features; random weights, whose
   speed is that of trained ones), measured here.
2. The pairs each mode scores at COCO's 1K test (five folds of 1,000 images and 5,000 captions) and 5K test (5,000 and
   25,000), and the resulting time on this machine per process: exact scores every pair; fast embeds every image and
   caption and scores at most k pairs per query both ways (their union is what it scores; the upper bound is printed);
   embedding scores none.
3. With `--model` (a retrieval finetuned folder, e.g. the demo's `runs/demo/finetune/retrieval/finetuned`) and
   `--split-file`/`--store`: the fast mode's Recall@1/5/10 against the exact mode's at several k on that split.

Goal: at the default k (40) the fast mode scores at least 20x fewer pairs than exact on the 1K test and 100x fewer on
the 5K test, with R@1, R@5 and R@10 within 1 point of exact.

    .venv/bin/python benchmarks/retrieval_eval_speed.py [--pairs 64] [--threads N]
    .venv/bin/python benchmarks/retrieval_eval_speed.py --model runs/demo/finetune/retrieval/finetuned \
        --split-file runs/demo/world/annotations/dataset_coco.json --store runs/demo/features/regions.h5 \
        --tag-attributes
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from finetune.retrieval import RetrievalCollate, RetrievalGallery, RetrievalModule, RetrievalSource
from finetune.retrieval.evaluate import PairScorer
from finetune.retrieval.gallery import GalleryEvaluation
from vlp.convert.folder import read_folder
from vlp.data import WordPieceTokenizer
from vlp.metrics.retrieval import RetrievalRecall
from vlp.model import RegionInputs, TextInputs, VLConfig, VLModel
from vlp.model.heads import ClassificationHead, EmbeddingProjection

CAPTION, TAGS, REGIONS = 12, 30, 50
TESTS = {"COCO 1K": (5, 1000, 5000), "COCO 5K": (1, 5000, 25000)}  # folds, images and captions per fold
DEFAULT_K = 40


def timed(function, repeats: int) -> float:
    """Seconds per call, after one warm-up call."""
    function()
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


@torch.no_grad()
def throughput(batch: int, repeats: int) -> tuple[float, float, float]:
    """(pairs, texts, images) per second at BERT-base size."""
    torch.manual_seed(0)
    config = VLConfig(hidden_dropout=0.0, attention_dropout=0.0)
    model, itm = VLModel(config).eval(), ClassificationHead(config.hidden_size, 2).eval()
    projection = EmbeddingProjection(config.hidden_size).eval()
    length = CAPTION + TAGS + 3
    text = TextInputs(
        torch.randint(1000, 2000, (batch, length)), (torch.arange(length) > CAPTION + 1).long().expand(batch, -1)
    )
    regions = RegionInputs(torch.randn(batch, REGIONS, config.region_feature_dim), torch.rand(batch, REGIONS, 6))
    caption = TextInputs(torch.randint(1000, 2000, (batch, CAPTION + 2)))
    pair = timed(lambda: itm(model(text, regions).pooled_output), repeats)
    texts = timed(lambda: model.encode_text(caption, projection), repeats)
    images = timed(lambda: model.encode_image(regions, projection), repeats)
    return batch / pair, batch / texts, batch / images


def hours(seconds: float) -> str:
    return f"{seconds / 3600:8.2f} h" if seconds >= 3600 else f"{seconds / 60:8.1f} min"


def cost_table(pairs_per_second: float, texts_per_second: float, images_per_second: float, k: int) -> None:
    print(f"\n{'test':<9}{'mode':<11}{'pairs scored':>16}{'fewer than exact':>18}{'time, this process':>20}")
    for name, (folds, images, captions) in TESTS.items():
        exact = folds * images * captions
        embedding_time = folds * (images / images_per_second + captions / texts_per_second)
        fast = folds * (images * k + captions * k)  # at most: the two shortlists' union
        for mode, pairs, seconds in (
            ("exact", exact, exact / pairs_per_second),
            (f"fast k={k}", fast, fast / pairs_per_second + embedding_time),
            ("embedding", 0, embedding_time),
        ):
            ratio = f"{exact / pairs:>17.0f}x" if pairs else f"{'all':>18}"
            print(f"{name:<9}{mode:<11}{pairs:>16,}{ratio}{hours(seconds):>20}")


def recall_at_k(args: argparse.Namespace) -> None:
    """The fast mode's recall against the exact mode's on a split, at several k."""
    folder = read_folder(args.model)
    tokenizer = WordPieceTokenizer(args.model)
    embed_dim = folder.heads["text_projection"].init_args["embed_dim"]
    module = RetrievalModule(folder.config, embed_dim=embed_dim, init_from=str(args.model)).eval()
    source = RetrievalSource(str(args.split_file), str(args.store), [args.split])
    gallery = RetrievalGallery([source], args.max_regions, folder.config.region_style, args.tag_attributes)
    collate = RetrievalCollate(tokenizer, args.max_tokens)
    scorer = PairScorer(module.model, module.heads["itm"], args.max_tokens, tokenizer.sep_id, True, 256)
    print(f"\n{len(gallery)} images, {len(gallery.captions)} captions of {args.split_file} ({args.split})")
    print(f"{'mode':<14}{'pairs':>10}" + "".join(f"{name:>20}" for name in ("i->t R@1/5/10", "t->i R@1/5/10")))
    for mode, k in [("exact", 10), *(("fast", k) for k in args.ks)]:
        evaluation = GalleryEvaluation(
            gallery, collate, module.model, module.heads, scorer, mode, k, lambda t: t, 0, 1, 64, torch.device("cpu")
        )
        with torch.no_grad():
            for start in range(0, len(gallery), 64):
                evaluation.step(collate([gallery[i] for i in range(start, min(start + 64, len(gallery)))]))
            recall = evaluation.finish(RetrievalRecall()).recall
        pairs = evaluation.pairs_scored
        cells = [
            "/".join(f"{recall[f'{d}/R@{n}']:.1f}" for n in (1, 5, 10)) for d in ("image_to_text", "text_to_image")
        ]
        print(f"{mode + ('' if mode == 'exact' else f' k={k}'):<14}{pairs:>10,}" + "".join(f"{c:>20}" for c in cells))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=64, help="pairs per timed batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="the fast mode's shortlist for the cost table")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--model", type=Path, help="a retrieval finetuned vlp folder, for fast against exact recall")
    parser.add_argument("--split-file", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--store", type=Path)
    parser.add_argument("--tag-attributes", action="store_true")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--max-regions", type=int, default=50)
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 20, 40, 80])
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    pairs, texts, images = throughput(args.pairs, args.repeats)
    print(f"BERT-base: {pairs:.1f} pairs/s (cross-encoder), {texts:.1f} texts/s, {images:.1f} images/s (embeddings)")
    cost_table(pairs, texts, images, args.k)
    if args.model is not None:
        recall_at_k(args)


if __name__ == "__main__":
    main()
