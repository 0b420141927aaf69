"""Pretraining data: corpora with their region stores, word-piece tokenisation, corruption, typed batches."""

from vlp.data.batch import MatchingInputs, PretrainBatch, RegionInputs, TextInputs
from vlp.data.collate import PretrainCollate
from vlp.data.corpora import CaptionJsonlCorpus, CocoCaptionsCorpus, Corpus, StoreImages, TextExample, VqaCorpus
from vlp.data.corruption import Corruption
from vlp.data.datamodule import PretrainDataModule
from vlp.data.dataset import PretrainDataset, PretrainItem
from vlp.data.loaders import LoaderSettings
from vlp.data.regions import ImageRegions, RegionReader
from vlp.data.sampler import LengthGroupedSampler
from vlp.data.tokenizer import WordPieceTokenizer, train_vocabulary

__all__ = [
    "CaptionJsonlCorpus",
    "CocoCaptionsCorpus",
    "Corpus",
    "Corruption",
    "ImageRegions",
    "LengthGroupedSampler",
    "LoaderSettings",
    "MatchingInputs",
    "PretrainBatch",
    "PretrainCollate",
    "PretrainDataModule",
    "PretrainDataset",
    "PretrainItem",
    "RegionInputs",
    "RegionReader",
    "StoreImages",
    "TextExample",
    "TextInputs",
    "VqaCorpus",
    "WordPieceTokenizer",
    "train_vocabulary",
]
