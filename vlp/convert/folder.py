"""The vlp folder: `config.json` (model config and heads) and `model.safetensors` (vlp names), plus tokenizer files.

```
config.json        {"format": "vlp", "format_version": 1, "model": {VLConfig fields},
                    "heads": {name: {"class_path": "vlp.model.heads.TiedPredictionHead", "init_args": {...}}}}
model.safetensors  model.* and heads.<name>.* tensors
vocab.txt, ...     the tokenizer files of the source checkpoint, when it had them
```
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch

from vlp.convert.base import Converted, HeadSpec, VLBundle, import_state_dict
from vlp.convert.files import CONFIG_NAME, read_json, read_state_dict, write_checkpoint
from vlp.model.config import VLConfig

FORMAT = "vlp"
FORMAT_VERSION = 1
WEIGHTS_NAME = "model.safetensors"


def write_folder(bundle: VLBundle, path: str | Path, tokenizer_from: str | Path | None = None) -> None:
    """Writes a bundle as a vlp folder.

    Args:
        bundle: Model and heads.
        path: Output folder (created).
        tokenizer_from: Folder whose tokenizer files to copy along.
    """
    heads = bundle.head_specs
    config: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": bundle.config.to_dict(),
        "heads": {name: {"class_path": spec.class_path, "init_args": spec.init_args} for name, spec in heads.items()},
    }
    write_checkpoint(path, bundle.state_dict(), WEIGHTS_NAME, config, tokenizer_from)


def read_folder(path: str | Path) -> Converted:
    """Reads a vlp folder; the report lists tensors the recorded model and heads need but the file lacks, and
    tensors in the file that they do not have.

    Raises:
        ValueError: the folder is not a vlp folder or has a newer format version.
    """
    folder = Path(path)
    values = read_json(folder / CONFIG_NAME)
    if values.get("format") != FORMAT or values.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{folder} is not a vlp folder of format version <= {FORMAT_VERSION}")
    config = VLConfig.from_dict(values["model"])
    heads = {
        name: HeadSpec.from_class_path(head["class_path"], head["init_args"]) for name, head in values["heads"].items()
    }
    # The identity map over the recorded layout, to report in the same terms as every other format; the model is built
    # on the meta device only to list its names.
    with torch.device("meta"):
        names = VLBundle.create(config, heads).state_dict().keys()
    state, report = import_state_dict(read_state_dict(folder / WEIGHTS_NAME), {name: name for name in names})
    return Converted(config, heads, state, report, str(folder))


def load_pretrained(
    path: str | Path, allow_missing: Collection[str] = (), allow_unexpected: Collection[str] = ()
) -> VLBundle:
    """Loads a vlp folder as a `VLBundle` (model and heads) in eval mode, as `from_pretrained` does in transformers
    (call `.train()` to finetune it), raising on any mismatch that is not allowed."""
    return read_folder(path).build(allow_missing, allow_unexpected).eval()
