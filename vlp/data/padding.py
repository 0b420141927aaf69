"""Dynamic padding: stack ragged per-example arrays to the longest of the batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vlp.data.batch import RegionInputs, TextInputs
from vlp.data.regions import ImageRegions
from vlp.data.tokenizer import EncodedPair
from vlp.objectives.output import IGNORE_INDEX


def pad_texts(encoded: Sequence[EncodedPair], pad_id: int) -> TextInputs:
    """[B, T] ids, token types and mask, T the longest sequence; padding holds `pad_id` and type 0."""
    length = max(len(pair.input_ids) for pair in encoded)
    input_ids = torch.full((len(encoded), length), pad_id, dtype=torch.long)
    token_type_ids = torch.zeros((len(encoded), length), dtype=torch.long)
    text_mask = torch.zeros((len(encoded), length), dtype=torch.bool)
    for row, pair in enumerate(encoded):
        size = len(pair.input_ids)
        input_ids[row, :size] = torch.tensor(pair.input_ids)
        token_type_ids[row, :size] = torch.tensor(pair.token_type_ids)
        text_mask[row, :size] = True
    return TextInputs(input_ids, token_type_ids, text_mask)


def pad_regions(items: Sequence[ImageRegions]) -> RegionInputs:
    """[B, R, ...] features, geometry, mask and labels, R the most regions of the batch (at least 1, so that every
    tensor has a region axis even when every image is empty)."""
    count = max(1, *(item.features.shape[0] for item in items))
    batch, dim, geometry_dim = len(items), items[0].features.shape[1], items[0].geometry.shape[1]
    features = np.zeros((batch, count, dim), dtype=np.float32)
    geometry = np.zeros((batch, count, geometry_dim), dtype=np.float32)
    labels = np.full((batch, count), IGNORE_INDEX, dtype=np.int64)
    mask = np.zeros((batch, count), dtype=bool)
    for row, item in enumerate(items):
        size = item.features.shape[0]
        features[row, :size], geometry[row, :size], labels[row, :size] = item.features, item.geometry, item.labels
        mask[row, :size] = True
    return RegionInputs(
        torch.from_numpy(features), torch.from_numpy(geometry), torch.from_numpy(mask), torch.from_numpy(labels)
    )
