"""The single-stream vision-language transformer and its heads."""

from vlp.model.attention import KVCache
from vlp.model.config import VLConfig
from vlp.model.heads import (
    ClassificationHead,
    EmbeddingProjection,
    MLPClassificationHead,
    TiedPredictionHead,
    in_float32,
)
from vlp.model.inputs import RegionInputs, TextInputs
from vlp.model.model import VLModel, VLOutput

__all__ = [
    "ClassificationHead",
    "EmbeddingProjection",
    "KVCache",
    "MLPClassificationHead",
    "RegionInputs",
    "TextInputs",
    "TiedPredictionHead",
    "VLConfig",
    "VLModel",
    "VLOutput",
    "in_float32",
]
