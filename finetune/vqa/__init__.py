"""VQA v2 finetuning: official files in (`data`), answer vocabulary and soft targets (`answers`), the dataset and data
module (`dataset`, `collate`, `datamodule`), the LightningModule (`module`) and the real-versus-shuffled demo (`demo`).

    vlp fit --config configs/finetune/vqa.yaml
    vlp predict --config configs/finetune/vqa.yaml --ckpt_path runs/finetune/vqa/checkpoints/last.ckpt
"""

from finetune.vqa.answers import AnswerVocabulary, SoftTarget
from finetune.vqa.batch import VQABatch
from finetune.vqa.collate import VQACollate
from finetune.vqa.datamodule import VQADataModule
from finetune.vqa.dataset import VQADataset, VQAItem, VQASource
from finetune.vqa.loss import vqa_bce_loss
from finetune.vqa.module import VQAModule

__all__ = [
    "AnswerVocabulary",
    "SoftTarget",
    "VQABatch",
    "VQACollate",
    "VQADataModule",
    "VQADataset",
    "VQAItem",
    "VQAModule",
    "VQASource",
    "vqa_bce_loss",
]
