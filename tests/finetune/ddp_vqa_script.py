"""Validation and prediction of a fixed `VQAModule`, in one process or two gloo processes.

Run by `test_vqa_distributed.py` as a module (`python -m tests.finetune.ddp_vqa_script`), because Lightning's DDP
launcher starts the second process by running the same command again. Process 0 writes the validation metrics
(`metrics.json`) and the results file (`results.json`) to `--out`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lightning.pytorch import Trainer, seed_everything

from finetune.vqa import AnswerVocabulary, VQADataModule, VQAModule, VQASource
from tests.model.factories import tiny
from vlp.data import LoaderSettings


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("questions", "annotations", "store", "vocab", "answers", "out"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--devices", type=int, default=1)
    args = parser.parse_args()
    out = Path(args.out)

    seed_everything(0)
    annotated = VQASource(args.questions, args.store, args.annotations)
    datamodule = VQADataModule(
        train=[annotated],
        val=[annotated],
        predict=[VQASource(args.questions, args.store)],
        vocab=args.vocab,
        answers=args.answers,
        # uneven shares: the last batch of each process is short
        loader=LoaderSettings(eval_batch_size=5, num_workers=0),
        max_tokens=40,
    )
    # Large random weights answer differently from question to question; the answers are given so that the classifier
    # is built here, from the seed, the same in both runs. (Dropout, which tiny() turns off, is idle in evaluation.)
    config = tiny(
        vocab_size=30522, num_layers=1, num_heads=2, intermediate_size=32, region_feature_dim=32, initializer_range=1.0
    )
    module = VQAModule(
        config, answers=list(AnswerVocabulary.load(Path(args.answers)).answers), results=str(out / "results.json")
    )
    trainer = Trainer(
        accelerator="cpu",
        devices=args.devices,
        strategy="ddp" if args.devices > 1 else "auto",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(out),
    )
    metrics = trainer.validate(module, datamodule, verbose=False)[0]
    trainer.predict(module, datamodule, return_predictions=False)
    if trainer.is_global_zero:
        (out / "metrics.json").write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
