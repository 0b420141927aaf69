"""Captions per second of beam search through the key/value cache against recomputing the whole sequence at every
step, in the same run.

BERT-base sizes (12 layers, hidden 768), Oscar's decoding settings (beam 5, at most 20 tokens), a context of 15 tag
pieces and 50 regions of 2048-d features per image, random weights (the speed does not depend on them; the end token
is banned so every caption runs the full 20 steps). Both decoders are `vlp.generate.caption`'s and give the same
captions (`tests/generate/test_caption.py`); the cache should be at least 3x faster.

    .venv/bin/python benchmarks/caption_decoding_speed.py [--images 4] [--layers 12] [--beams 5] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import torch

from vlp.generate import BeamSettings, beam_search
from vlp.generate.caption import CachedCaptionDecoder, CaptionContext, RecomputingCaptionDecoder
from vlp.model import RegionInputs, TextInputs, TiedPredictionHead, VLConfig, VLModel

TAGS, REGIONS, CAPTION, START, END = 15, 50, 40, 101, 102


def build(layers: int, images: int) -> tuple[VLModel, TiedPredictionHead, CaptionContext]:
    torch.manual_seed(0)
    config = VLConfig(num_layers=layers, hidden_dropout=0.0, attention_dropout=0.0)
    model = VLModel(config).eval()
    head = TiedPredictionHead(config.hidden_size, config.vocab_size).eval()
    with torch.no_grad():  # never end early, so both decoders run every step
        head.bias[END] = -1e4
    context = CaptionContext(
        TextInputs(torch.randint(1000, 2000, (images, TAGS)), torch.ones(images, TAGS, dtype=torch.long)),
        RegionInputs(torch.randn(images, REGIONS, config.region_feature_dim), torch.rand(images, REGIONS, 6)),
        CAPTION,
    )
    return model, head, context


@torch.no_grad()
def captions_per_second(decoder: type, model, head, context: CaptionContext, settings: BeamSettings) -> float:
    images = context.tags.input_ids.shape[0]
    started = time.perf_counter()
    beam_search(decoder(model, head, context), images, START, END, settings)
    return images / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--beams", type=int, default=5)
    parser.add_argument("--max-length", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, head, context = build(args.layers, args.images)
    settings = BeamSettings(beams=args.beams, max_length=args.max_length)
    print(
        f"{args.layers} layers, hidden 768, {args.images} images x beam {args.beams}, {args.max_length} tokens, "
        f"{TAGS} tag pieces + {REGIONS} regions, {torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    cached = captions_per_second(CachedCaptionDecoder, model, head, context, settings)
    recomputed = captions_per_second(RecomputingCaptionDecoder, model, head, context, settings)
    print(f"cached      {cached:8.3f} captions/s")
    print(f"recomputing {recomputed:8.3f} captions/s")
    print(f"the cache is {cached / recomputed:.2f}x faster (target >= 3x)")


if __name__ == "__main__":
    main()
