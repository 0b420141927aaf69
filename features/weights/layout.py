"""What the detector checkpoints we convert share: the report of unmatched keys and the class-layout changes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch


@dataclass
class ConversionReport:
    """What a conversion could not account for, by name.

    Attributes:
        missing: keys of the map that the source state dict lacks.
        unexpected: source keys that the map does not know.
        ignored: source keys that carry nothing the detector needs (listed, never silently dropped).
    """

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every key of the map was found and every source key was used or ignored by rule."""
        return not self.missing and not self.unexpected


def background_last(tensor: torch.Tensor) -> torch.Tensor:
    """Moves row 0 (the background class, or "no attribute") to the end, where detectron2 expects it."""
    return torch.cat([tensor[1:], tensor[:1]])


def drop_background_boxes(tensor: torch.Tensor) -> torch.Tensor:
    """[(C + 1) * 4, ...] -> [C * 4, ...]: detectron2 regresses no box for the background class (rows 0-3)."""
    return tensor[4:]


def apply_key_map(
    source: Mapping[str, torch.Tensor],
    key_map: Mapping[str, str],
    transforms: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """Renames the tensors of `source` by `key_map` {source key: target key}, re-laying those named in `transforms`.

    Returns:
        the renamed tensors, the map's keys missing from `source` (map order), and the source keys outside the map.
    """
    converted = {}
    for key, target in key_map.items():
        if key in source:
            transform = transforms.get(key)
            converted[target] = transform(source[key]) if transform else source[key]
    missing = [key for key in key_map if key not in source]
    return converted, missing, [key for key in source if key not in key_map]


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """A state dict from a torch file, bare or wrapped under "state_dict" or "model" (as training checkpoints are).

    Raises:
        ValueError: the file holds something else.
    """
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict):
            loaded = loaded[wrapper]
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} holds a {type(loaded).__name__}, not a state dict")
    return loaded
