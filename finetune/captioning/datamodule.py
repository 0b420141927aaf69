"""`CaptionDataModule`: COCO caption corpora (Karpathy splits), region stores, tokenizer, batching and workers.

```yaml
data:
  class_path: finetune.captioning.CaptionDataModule
  init_args:
    train: [{class_path: vlp.data.CocoCaptionsCorpus,
             init_args: {captions: coco/captions_train2014.json, store: features/coco, karpathy: coco/dataset_coco.json,
                         splits: [train, restval]}}]
    val: [{class_path: vlp.data.CocoCaptionsCorpus, init_args: {..., splits: [val]}}]
    vocab: pretrained/vocab.txt
```
"""

from __future__ import annotations

from collections.abc import Sequence

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from finetune.captioning.collate import CaptionCollate, CaptionObjective
from finetune.captioning.dataset import CaptionDataset
from vlp.data.corpora import Corpus
from vlp.data.coverage import report_coverage
from vlp.data.loaders import LoaderSettings, eval_loader, train_loader
from vlp.data.regions import RegionReader
from vlp.data.tokenizer import WordPieceTokenizer
from vlp.store.geometry import GeometryStyle


class CaptionDataModule(LightningDataModule):
    """Captioning data: one example per training caption, one per evaluation image with its references.

    Args:
        train: the training caption corpora (Karpathy train + restval).
        val: the validation corpora, decoded and scored with CIDEr-D; none skips validation.
        predict: the corpora `vlp predict` captions (their captions are not read as inputs).
        vocab: a BERT `vocab.txt`, or a folder holding one (the pretrained model's).
        objective: "masked" (Oscar's masked caption tokens) or "next_token"; the model module must decode the same way.
        max_caption_tokens: the caption part's positions (Oscar's `max_seq_a_length`: 40).
        max_tokens: the whole text budget, tags included (Oscar's `max_seq_length`: 70).
        mask_probability: masked objective: the rate of masked caption tokens (Oscar: 0.15).
        max_masked: masked objective: the most masked tokens per caption (Oscar: 3).
        max_regions: the region budget per image (Oscar: 50).
        tags: put the region tags after the caption (Oscar).
        tag_attributes: lead each tag with its region's attribute names; every store must hold attributes.
        geometry: box geometry style; must match the model's `region_style`.
        shuffle_region_features: the control: every image shows the regions and tags of another image of its split,
            by a fixed permutation, in every split read. Given to prediction only, the trained model is tested
            without its images; given to fitting too, the model is trained without them.
        shuffle_seed: the seed of that permutation.
        loader: batch sizes, workers, length bucketing and pinning (`vlp.data.LoaderSettings`).
    """

    def __init__(
        self,
        train: Sequence[Corpus],
        val: Sequence[Corpus] = (),
        predict: Sequence[Corpus] = (),
        vocab: str = "vocab.txt",
        objective: CaptionObjective = "masked",
        max_caption_tokens: int = 40,
        max_tokens: int = 70,
        mask_probability: float = 0.15,
        max_masked: int = 3,
        max_regions: int = 50,
        tags: bool = True,
        tag_attributes: bool = False,
        geometry: GeometryStyle = "oscar",
        shuffle_region_features: bool = False,
        shuffle_seed: int = 0,
        loader: LoaderSettings | None = None,
    ) -> None:
        super().__init__()
        self.sources = {"train": list(train), "val": list(val), "predict": list(predict)}
        self.vocab, self.objective = vocab, objective
        self.max_caption_tokens, self.max_tokens = max_caption_tokens, max_tokens
        self.mask_probability, self.max_masked = mask_probability, max_masked
        self.max_regions, self.tags, self.tag_attributes, self.geometry = max_regions, tags, tag_attributes, geometry
        self.shuffle_seed = shuffle_seed if shuffle_region_features else None
        self.loader = loader or LoaderSettings()
        self.tokenizer: WordPieceTokenizer | None = None
        self.datasets: dict[str, CaptionDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is None:
            self.tokenizer = WordPieceTokenizer(self.vocab)
        wanted = {
            "train": stage in (None, "fit"),
            "val": stage in (None, "fit", "validate"),
            "predict": stage in (None, "predict"),
        }
        for split, needed in wanted.items():
            if needed and self.sources[split] and split not in self.datasets:
                evaluated = split != "train"
                dataset = CaptionDataset(
                    self.sources[split],
                    evaluated,
                    self.max_regions,
                    self.geometry,
                    self.tag_attributes,
                    self.shuffle_seed,
                )
                self.datasets[split] = dataset
                if self.trainer is None or self.trainer.is_global_zero:
                    report_coverage(self.tokenizer, dataset.texts(), f"{split} captions and tags")

    def region_readers(self) -> list[RegionReader]:
        """The region reader of each dataset set up so far."""
        return [dataset.regions for dataset in self.datasets.values()]

    def collate(self, fixed: bool) -> CaptionCollate:
        assert self.tokenizer is not None
        return CaptionCollate(
            self.tokenizer,
            self.objective,
            self.max_caption_tokens,
            self.max_tokens,
            self.mask_probability,
            self.max_masked,
            self.tags,
            fixed,
        )

    def train_dataloader(self) -> DataLoader:
        dataset = self.datasets["train"]
        return train_loader(dataset, self.collate(False), self.loader, lambda: dataset.lengths().tolist(), self.trainer)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        if "val" not in self.datasets:
            return []
        return eval_loader(self.datasets["val"], self.collate(True), self.loader, self.trainer)

    def predict_dataloader(self) -> DataLoader:
        if "predict" not in self.datasets:
            raise ValueError("no predict corpora: set data.predict (the images to caption and their store)")
        return eval_loader(self.datasets["predict"], self.collate(True), self.loader, self.trainer, unrepeated=False)
