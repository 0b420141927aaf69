"""`PretrainDataModule`: corpora, tokenizer, corruption, batching and workers for pretraining.

```yaml
data:
  class_path: vlp.data.PretrainDataModule
  init_args:
    train: [{class_path: vlp.data.CocoCaptionsCorpus, init_args: {captions: ..., store: ...}}]
    val: [...]
    vocab: bert-base-uncased/vocab.txt
    corruption: {mask_probability: 0.15, contrastive_classes: 2}
    loader: {batch_size: 32, num_workers: 2}
```
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from vlp.data.collate import PretrainCollate
from vlp.data.corpora import Corpus
from vlp.data.corruption import Corruption
from vlp.data.coverage import report_coverage
from vlp.data.dataset import PretrainDataset
from vlp.data.loaders import LoaderSettings, eval_loader, train_loader
from vlp.data.regions import RegionReader
from vlp.data.tokenizer import WordPieceTokenizer, train_vocabulary, vocab_file
from vlp.store.geometry import GeometryStyle


class PretrainDataModule(LightningDataModule):
    """Pretraining data over several corpora, each with its region store.

    Args:
        train: the training corpora (captions, VQA pairs, ...), mixed into one dataset.
        val: validation corpora; none skips validation.
        vocab: a BERT `vocab.txt`, or a folder holding one (a BERT checkpoint's).
        vocab_size: when set and `vocab` does not exist, `prepare_data` trains a word-piece vocabulary of at most this
            many pieces on the training texts and tags and writes it there (the demo's self-contained vocabulary).
        vocab_corpora: more corpora whose texts that trained vocabulary must cover, e.g. the questions of a later
            finetuning, which captions alone leave split into letters ("w ##h ##a ##t"); not trained on.
        corruption: what the collate corrupts for the objectives (masking, pollution, matching, region masking).
        max_tokens: the text budget, `[CLS] text [SEP] text b [SEP]` included (Oscar: 35).
        max_regions: the region budget per image (Oscar: 50).
        tags: put each image's region tags after its caption as text b (Oscar, Oscar+); False for models without
            tags (UNITER, ROSITA).
        tag_attributes: lead each tag with its region's attribute names ("green small star"), for stores extracted
            with an attribute head; every store must hold attributes.
        geometry: box geometry style; must match the model's `region_style`.
        loader: batch sizes, workers, length bucketing and pinning (`vlp.data.LoaderSettings`).
    """

    def __init__(
        self,
        train: Sequence[Corpus],
        val: Sequence[Corpus] = (),
        vocab: str = "vocab.txt",
        vocab_size: int | None = None,
        vocab_corpora: Sequence[Corpus] = (),
        corruption: Corruption | None = None,
        max_tokens: int = 35,
        max_regions: int = 50,
        tags: bool = True,
        tag_attributes: bool = False,
        geometry: GeometryStyle = "oscar",
        loader: LoaderSettings | None = None,
    ) -> None:
        super().__init__()
        if corruption is not None and corruption.contrastive_classes and not tags:
            raise ValueError("Oscar's contrastive pollution replaces the tags: keep tags on to use it")
        self.train_corpora, self.val_corpora = list(train), list(val)
        self.vocab, self.vocab_size, self.vocab_corpora = vocab, vocab_size, list(vocab_corpora)
        self.corruption = corruption or Corruption()
        self.max_tokens, self.max_regions, self.tags, self.geometry = max_tokens, max_regions, tags, geometry
        self.tag_attributes = tag_attributes
        self.loader = loader or LoaderSettings()
        self.tokenizer: WordPieceTokenizer | None = None
        self.train_set: PretrainDataset | None = None
        self.val_set: PretrainDataset | None = None

    @property
    def vocab_path(self) -> Path:
        """The `vocab.txt` the tokenizer reads."""
        return vocab_file(self.vocab)

    def prepare_data(self) -> None:
        """Trains the vocabulary when asked to and it does not exist yet (once, on the first process of a node)."""
        if self.vocab_size is None or self.vocab_path.is_file():
            return
        datasets = [
            PretrainDataset(corpora, self.max_regions, self.geometry, self.tag_attributes)
            for corpora in (self.train_corpora, self.vocab_corpora)
            if corpora
        ]
        train_vocabulary(itertools.chain.from_iterable(d.texts() for d in datasets), self.vocab_path, self.vocab_size)

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is None:
            self.tokenizer = WordPieceTokenizer(self.vocab_path)
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = PretrainDataset(self.train_corpora, self.max_regions, self.geometry, self.tag_attributes)
            if self.trainer is None or self.trainer.is_global_zero:
                report_coverage(self.tokenizer, self.train_set.texts(), "training texts and tags")
        if stage in (None, "fit", "validate") and self.val_corpora and self.val_set is None:
            self.val_set = PretrainDataset(self.val_corpora, self.max_regions, self.geometry, self.tag_attributes)

    def region_readers(self) -> list[RegionReader]:
        """The region reader of each dataset set up so far."""
        return [dataset.regions for dataset in (self.train_set, self.val_set) if dataset is not None]

    @property
    def region_label_names(self) -> list[str]:
        """The region label vocabulary of the training data (the region classifier's classes)."""
        if self.train_set is None:
            raise RuntimeError("call setup('fit') first")
        return self.train_set.region_label_names

    def _collate(self, dataset: PretrainDataset, fixed: bool) -> PretrainCollate:
        assert self.tokenizer is not None
        return PretrainCollate(dataset, self.tokenizer, self.corruption, self.max_tokens, self.tags, fixed)

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None
        dataset = self.train_set
        return train_loader(
            dataset, self._collate(dataset, fixed=False), self.loader, lambda: dataset.lengths().tolist(), self.trainer
        )

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        if self.val_set is None:
            return []
        return eval_loader(self.val_set, self._collate(self.val_set, fixed=True), self.loader, self.trainer)
