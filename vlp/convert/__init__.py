"""Checkpoint conversion: HF BERT, Oscar/VinVL and UNITER checkpoints and vlp folders, through explicit key maps.

Every reader returns a `Converted` (config, heads found, tensors in vlp names, and a `LoadReport` of missing and
unexpected keys); `Converted.build` checks the report and instantiates a `VLBundle` (model and heads), which the
writers take.
"""

import importlib
from typing import Any

# Where each name lives. They are imported on first use, so that `vlp convert --help` (which imports this package)
# answers without loading torch.
_LOCATIONS = {
    "CheckpointMismatchError": "vlp.convert.base",
    "Converted": "vlp.convert.base",
    "HeadSpec": "vlp.convert.base",
    "LoadReport": "vlp.convert.base",
    "VLBundle": "vlp.convert.base",
    "load_pretrained": "vlp.convert.folder",
    "read_folder": "vlp.convert.folder",
    "write_folder": "vlp.convert.folder",
    "read_hf_bert": "vlp.convert.hf_bert",
    "read_oscar": "vlp.convert.oscar",
    "write_oscar": "vlp.convert.oscar",
    "read_uniter": "vlp.convert.uniter",
    "write_uniter": "vlp.convert.uniter",
}


def __getattr__(name: str) -> Any:
    if name not in _LOCATIONS:
        raise AttributeError(f"module 'vlp.convert' has no attribute {name!r}")
    return getattr(importlib.import_module(_LOCATIONS[name]), name)


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
