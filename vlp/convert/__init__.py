"""Checkpoint conversion: HF BERT, Oscar/VinVL and UNITER checkpoints and vlp folders, through explicit key maps.

Every reader returns a `Converted` (config, heads found, tensors in vlp names, and a `LoadReport` of missing and
unexpected keys); `Converted.build` checks the report and instantiates a `VLBundle` (model and heads), which the
writers take.
"""

from vlp.convert.base import CheckpointMismatchError, Converted, HeadSpec, LoadReport, VLBundle
from vlp.convert.folder import load_pretrained, read_folder, write_folder
from vlp.convert.hf_bert import read_hf_bert
from vlp.convert.oscar import read_oscar, write_oscar
from vlp.convert.uniter import read_uniter, write_uniter

__all__ = [
    "CheckpointMismatchError",
    "Converted",
    "HeadSpec",
    "LoadReport",
    "VLBundle",
    "load_pretrained",
    "read_folder",
    "read_hf_bert",
    "read_oscar",
    "read_uniter",
    "write_folder",
    "write_oscar",
    "write_uniter",
]
