"""One training step of `PretrainModule` on a fixed batch, in one process or split over two gloo processes.

Run by `test_distributed.py` as a module (`python -m tests.pretrain.ddp_script`), because Lightning's DDP launcher
starts the second process by running the same command again. Process 0 writes the gradients that reach the optimizer
(after DDP's all-reduce) to `--out`.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningDataModule, Trainer, seed_everything
from torch.utils.data import DataLoader

from tests.model.factories import tiny
from vlp.data import CocoCaptionsCorpus, Corruption, PretrainBatch, PretrainCollate, PretrainDataset, WordPieceTokenizer
from vlp.pretrain import ObjectiveWeights, PretrainModule
from vlp.train import OptimizerSettings

BATCH = 8
OBJECTIVES = ObjectiveWeights(mlm=1.0, contrastive=0.5, itm=1.0, mrfr=1.0, mrc=1.0, infonce=0.5)


def fixed_batch(captions: str, store: str, vocab: str) -> PretrainBatch:
    """A batch whose image-text matching pairs stay within each half (so that halves are batches of their own)."""
    dataset = PretrainDataset([CocoCaptionsCorpus(captions, store)], geometry="uniter")
    corruption = Corruption(contrastive_classes=2, matching=True, region_mask_probability=0.3, mask_probability=0.3)
    batch = PretrainCollate(dataset, WordPieceTokenizer(vocab), corruption, fixed=True)(
        [dataset[i] for i in range(BATCH)]
    )
    assert batch.matching is not None
    batch.matching.image_index = torch.tensor([1, 0, 2, 3, 5, 4, 6, 7])
    return batch


def half(value: object, rank: int) -> object:
    """Rows `rank * B/2 : (rank + 1) * B/2` of every tensor (and list) of a batch, recursively."""
    size = BATCH // 2
    if isinstance(value, torch.Tensor):
        return value[rank * size : (rank + 1) * size]
    if isinstance(value, list):
        return value[rank * size : (rank + 1) * size]
    if dataclasses.is_dataclass(value):
        return dataclasses.replace(
            value, **{f.name: half(getattr(value, f.name), rank) for f in dataclasses.fields(value)}
        )
    return value


class FixedData(LightningDataModule):
    def __init__(self, batch: PretrainBatch) -> None:
        super().__init__()
        self.batch = batch

    def train_dataloader(self) -> DataLoader:
        trainer = self.trainer
        shard = self.batch
        if trainer.world_size > 1:
            shard = half(self.batch, trainer.global_rank)
            shard.matching.image_index = shard.matching.image_index - trainer.global_rank * (BATCH // 2)
        return DataLoader([shard], batch_size=None, collate_fn=lambda batch: batch)


class SaveGradients(Callback):
    def __init__(self, path: Path) -> None:
        self.path = path

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.is_global_zero:
            grads = {name: p.grad.detach().clone() for name, p in pl_module.named_parameters() if p.grad is not None}
            torch.save(grads, self.path)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--captions", "--store", "--vocab", "--out", "--root"):
        parser.add_argument(name, required=True)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--accelerator", default="cpu", help="cpu (gloo between processes) or gpu (NCCL)")
    args = parser.parse_args()
    seed_everything(0)
    config = tiny(
        vocab_size=30522,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=512,
        region_style="uniter",
        region_feature_dim=32,
    )
    module = PretrainModule(config, OBJECTIVES, num_region_labels=8, embed_dim=16, optimizer=OptimizerSettings(lr=1e-3))
    trainer = Trainer(
        accelerator=args.accelerator,
        devices=args.devices,
        strategy="ddp" if args.devices > 1 else "auto",
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        default_root_dir=args.root,
        callbacks=[SaveGradients(Path(args.out))],
    )
    trainer.fit(module, FixedData(fixed_batch(args.captions, args.store, args.vocab)))


if __name__ == "__main__":
    main()
