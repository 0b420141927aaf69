"""Image-text retrieval: Karpathy split files (`dataset`), captions and images batched apart and paired on the device
(`collate`, `pairs`), the data module, the LightningModule that trains the cross-encoder and its embeddings (`module`),
three evaluation modes (`evaluate`, `gallery`) and the results file (`rankings`).

    vlp fit --config configs/finetune/demo_retrieval.yaml
    vlp test --config configs/finetune/demo_retrieval.yaml --model.init_args.init_from runs/.../finetuned
    vlp predict --config ... # rankings.json, re-scored by `vlp eval retrieval`
"""

from finetune.retrieval.batch import CaptionTokens, ImageSide, RetrievalBatch
from finetune.retrieval.collate import RetrievalCollate
from finetune.retrieval.datamodule import RetrievalDataModule
from finetune.retrieval.dataset import RetrievalDataset, RetrievalGallery, RetrievalItem, RetrievalSource
from finetune.retrieval.module import RetrievalModule

__all__ = [
    "CaptionTokens",
    "ImageSide",
    "RetrievalBatch",
    "RetrievalCollate",
    "RetrievalDataModule",
    "RetrievalDataset",
    "RetrievalGallery",
    "RetrievalItem",
    "RetrievalModule",
    "RetrievalSource",
]
