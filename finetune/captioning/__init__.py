"""Image captioning: COCO captions with Karpathy splits (`dataset`), Oscar's layout and training targets (`collate`),
the data module, and the LightningModule that decodes by beam search through the key/value cache (`module`).

    vlp fit --config configs/finetune/demo_captioning.yaml
    vlp predict --config configs/finetune/demo_captioning.yaml --ckpt_path ...   # caption_results.json
"""

from finetune.captioning.batch import CaptionBatch
from finetune.captioning.collate import CaptionCollate
from finetune.captioning.datamodule import CaptionDataModule
from finetune.captioning.dataset import CaptionDataset, CaptionItem
from finetune.captioning.module import CaptioningModule

__all__ = ["CaptionBatch", "CaptionCollate", "CaptionDataModule", "CaptionDataset", "CaptionItem", "CaptioningModule"]
