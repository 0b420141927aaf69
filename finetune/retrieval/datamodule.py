"""`RetrievalDataModule`: Karpathy split files and region stores, the tokenizer, batching and workers.

```yaml
data:
  class_path: finetune.retrieval.RetrievalDataModule
  init_args:
    train: [{split_file: coco/dataset_coco.json, store: features/coco, splits: [train, restval]}]
    val: [{split_file: coco/dataset_coco.json, store: features/coco, splits: [val], max_images: 1000}]
    test: [{split_file: coco/dataset_coco.json, store: features/coco, splits: [test], folds: 5}]   # COCO 1K
    vocab: pretrained/vocab.txt
```
"""

from __future__ import annotations

from collections.abc import Sequence

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from finetune.retrieval.collate import RetrievalCollate
from finetune.retrieval.dataset import RetrievalDataset, RetrievalGallery, RetrievalSource
from vlp.data.coverage import report_coverage
from vlp.data.loaders import LoaderSettings, eval_loader, train_loader
from vlp.data.regions import RegionReader
from vlp.data.tokenizer import WordPieceTokenizer
from vlp.store.geometry import GeometryStyle

EVALUATED = ("val", "test", "predict")


class RetrievalDataModule(LightningDataModule):
    """Retrieval data: one training example per caption; evaluation galleries of images with their captions.

    Args:
        train: the training splits (Karpathy train + restval).
        val: the validation gallery (e.g. the first 1,000 val images, as Oscar's minival); none skips validation.
        test: the gallery `vlp test` ranks (COCO: the test split, `folds: 5` for the 1K test, 1 for 5K).
        predict: the gallery `vlp predict` ranks into `rankings.json`.
        vocab: a BERT `vocab.txt`, or a folder holding one (the pretrained model's).
        max_tokens: a pair's text budget, caption and tags (Oscar's `max_seq_length`: 70).
        max_regions: the region budget per image (Oscar's `max_img_seq_length`: 70).
        tags: put the image's region tags after the caption (Oscar); without them the text is the caption (UNITER).
        tag_attributes: lead each tag with its region's attribute names; every store must hold attributes.
        geometry: box geometry style; must match the model's `region_style`.
        shuffle_region_features: the control: each image shows the regions and tags of another image of its store,
            by a fixed permutation, in every split read. Given to prediction only, the trained model ranks images it
            cannot see; given to fitting too, the model is trained without them.
        shuffle_seed: the seed of that permutation.
        loader: batch sizes (training captions; evaluation images), workers, bucketing and pinning.
    """

    def __init__(
        self,
        train: Sequence[RetrievalSource] = (),
        val: Sequence[RetrievalSource] = (),
        test: Sequence[RetrievalSource] = (),
        predict: Sequence[RetrievalSource] = (),
        vocab: str = "vocab.txt",
        max_tokens: int = 70,
        max_regions: int = 70,
        tags: bool = True,
        tag_attributes: bool = False,
        geometry: GeometryStyle = "oscar",
        shuffle_region_features: bool = False,
        shuffle_seed: int = 0,
        loader: LoaderSettings | None = None,
    ) -> None:
        super().__init__()
        self.sources = {"train": list(train), "val": list(val), "test": list(test), "predict": list(predict)}
        self.vocab, self.max_tokens, self.max_regions = vocab, max_tokens, max_regions
        self.tags, self.tag_attributes, self.geometry = tags, tag_attributes, geometry
        self.shuffle_seed = shuffle_seed if shuffle_region_features else None
        self.loader = loader or LoaderSettings()
        self.tokenizer: WordPieceTokenizer | None = None
        self.datasets: dict[str, RetrievalDataset | RetrievalGallery] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is None:
            self.tokenizer = WordPieceTokenizer(self.vocab)
        wanted = {
            "train": stage in (None, "fit"),
            "val": stage in (None, "fit", "validate"),
            "test": stage in (None, "test"),
            "predict": stage in (None, "predict"),
        }
        for split, needed in wanted.items():
            if not needed or not self.sources[split] or split in self.datasets:
                continue
            dataset: RetrievalDataset | RetrievalGallery
            if split == "train":
                dataset = RetrievalDataset(
                    self.sources[split], self.max_regions, self.geometry, self.tag_attributes, self.shuffle_seed
                )
            else:
                dataset = RetrievalGallery(
                    self.sources[split], self.max_regions, self.geometry, self.tag_attributes, self.shuffle_seed
                )
            self.datasets[split] = dataset
            if self.trainer is None or self.trainer.is_global_zero:
                report_coverage(self.tokenizer, dataset.texts(), f"{split} captions and tags")

    def gallery(self, split: str) -> RetrievalGallery:
        """The gallery of an evaluated split."""
        dataset = self.datasets.get(split)
        if not isinstance(dataset, RetrievalGallery):
            raise ValueError(f"no {split} gallery: set data.{split} (split files, splits and stores)")
        return dataset

    def region_readers(self) -> list[RegionReader]:
        """The region reader of each dataset set up so far."""
        return [dataset.regions for dataset in self.datasets.values()]

    def collate(self) -> RetrievalCollate:
        assert self.tokenizer is not None
        return RetrievalCollate(self.tokenizer, self.max_tokens, self.tags)

    def train_dataloader(self) -> DataLoader:
        dataset = self.datasets["train"]
        assert isinstance(dataset, RetrievalDataset)
        return train_loader(dataset, self.collate(), self.loader, lambda: dataset.lengths().tolist(), self.trainer)

    def _gallery_loader(self, split: str) -> DataLoader:
        return eval_loader(self.gallery(split), self.collate(), self.loader, self.trainer)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        return self._gallery_loader("val") if "val" in self.datasets else []

    def test_dataloader(self) -> DataLoader:
        return self._gallery_loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._gallery_loader("predict")
