"""Validation and prediction of a fixed `RetrievalModule`, in one process or two gloo processes.

Run by `test_retrieval_distributed.py` as a module (`python -m tests.finetune.ddp_retrieval_script`), because
Lightning's DDP launcher starts the second process by running the same command again. Process 0 writes the validation
metrics (`metrics.json`) and the rankings (`rankings.json`) to `--out`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lightning.pytorch import Trainer, seed_everything

from finetune.retrieval import RetrievalDataModule, RetrievalModule, RetrievalSource
from tests.model.factories import tiny
from vlp.data import LoaderSettings


class RecordingModule(RetrievalModule):
    """Records the rows of each world batch and the pairs drawn from it."""

    def training_pairs(self, world, count):  # type: ignore[no-untyped-def]
        captions, images, labels = super().training_pairs(world, count)
        keys = world.keys
        self.recorded.append(
            {
                "world": int(keys.shape[0]),
                "local": count,
                "offset": world.offset,
                "negatives_of_other_images": bool((keys[captions[labels == 0]] != keys[images[labels == 0]]).all()),
                "positives_local": bool(((captions[labels == 1] - world.offset) < count).all()),
            }
        )
        return captions, images, labels


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("split_file", "store", "vocab", "out", "mode"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--feature_dim", type=int, required=True)
    parser.add_argument("--fit", action="store_true", help="also train for two steps, recording the world batches")
    args = parser.parse_args()
    out = Path(args.out)

    seed_everything(0)
    # 15 images in three folds, batches of 4: uneven shares, and a short last batch on each process.
    gallery = [RetrievalSource(args.split_file, args.store, ["train"], folds=3, max_images=15)]
    datamodule = RetrievalDataModule(
        train=[RetrievalSource(args.split_file, args.store, ["train"], max_images=12)],
        val=gallery,
        predict=gallery,
        vocab=args.vocab,
        max_tokens=24,
        max_regions=6,
        loader=LoaderSettings(batch_size=5, eval_batch_size=4, num_workers=0),
    )
    # Large random weights score pairs far apart, so that no two candidates tie to the last bits.
    config = tiny(
        vocab_size=30522,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        region_feature_dim=args.feature_dim,
        initializer_range=1.0,
    )
    module = RecordingModule(
        config, embed_dim=8, evaluation=args.mode, shortlist=10, score_batch_size=9, results=str(out / "rankings.json")
    )

    def trainer(**settings: object) -> Trainer:
        return Trainer(
            accelerator="cpu",
            devices=args.devices,
            strategy="ddp" if args.devices > 1 else "auto",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=str(out),
            **settings,  # type: ignore[arg-type]
        )

    module.recorded = []
    if args.fit:
        fit = trainer(max_steps=2, limit_val_batches=0)
        fit.fit(module, datamodule)
        (out / f"fit{fit.global_rank}.json").write_text(json.dumps(module.recorded))
        return
    evaluation = trainer()
    metrics = evaluation.validate(module, datamodule, verbose=False)[0]
    evaluation.predict(module, datamodule, return_predictions=False)
    if evaluation.is_global_zero:
        (out / "metrics.json").write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
