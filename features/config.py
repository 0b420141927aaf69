"""Extraction configs: a YAML of `configs/features/` plus command-line overrides, validated, typed, resolved.

A config has six top-level keys:

    input: ???                  # image folder, list file, COCO-style json, or a list of these (--input)
    output: ???                 # region store path; shards are NAME.<i>-of-<n>.h5 (--output)
    image_root: null            # where relative file names of jsons and list files live
    backend:                    # the detector, built as class_path(**init_args, device=...)
      class_path: features.backends.given_boxes.GivenBoxesBackend
      init_args: {annotations: ${input}, backbone: resnet50, ...}
    decode: {max_side: 2048, max_image_pixels: 1000000000, exif_transpose: true}
    run: {batch_size: 8, num_workers: 2, device: auto, processes: 1, ...}   # see RunSettings

Overrides are OmegaConf dotlist entries (`run.batch_size=4`, `backend.init_args.min_boxes=36`) and may use
interpolation. Every unknown key is reported at once, backend arguments checked against the backend's signature.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from features.backends.base import Backend
from features.decode import Decoder
from vlp.cli.errors import omegaconf_message


class ConfigError(ValueError):
    """A config that cannot run; the message lists every problem found."""


@dataclass
class RunSettings:
    """How a run is carried out; none of these change the features.

    Attributes:
        batch_size: images per backend call.
        num_workers: decoding processes per extraction process.
        device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
        processes: local extraction processes, each writing its own shard file; 0 means one per CUDA device.
        shard_index: this machine's share of the images, in [0, shard_count) (--shard-index).
        shard_count: machines sharing the images (--shard-count).
        commit_every: images per crash-safe commit to the store.
        if_exists: what to do with an existing store file: resume (skip its images), error, or overwrite.
        progress: "auto" (a bar on a terminal, else log lines), "bar", "log" or "none".
        log_every_s: seconds between progress log lines.
        torch_threads: CPU threads of each extraction process's torch; 0 chooses (`features.threads.cpu_threads`):
            the cores the process may use (affinity and cgroup quota), shared between the local processes.
    """

    batch_size: int = 8
    num_workers: int = 2
    device: str = "auto"
    processes: int = 1
    shard_index: int = 0
    shard_count: int = 1
    commit_every: int = 64
    if_exists: str = "resume"
    progress: str = "auto"
    log_every_s: float = 30.0
    torch_threads: int = 0


@dataclass
class BackendSpec:
    """The backend class and its keyword arguments (the device is added when it is built)."""

    class_path: str = "???"
    init_args: dict[str, Any] = field(default_factory=dict)

    def build(self, device: str) -> Backend:
        """An instance of the backend on `device`."""
        return import_class(self.class_path)(**self.init_args, device=device)


@dataclass
class ExtractionConfig:
    """A complete, resolved extraction config (see the module docstring)."""

    input: Any = "???"
    output: str = "???"
    image_root: str | None = None
    backend: BackendSpec = field(default_factory=BackendSpec)
    decode: Decoder = field(default_factory=Decoder)
    run: RunSettings = field(default_factory=RunSettings)


CHOICES = {
    "run.if_exists": ("resume", "error", "overwrite"),
    "run.progress": ("auto", "bar", "log", "none"),
}


def import_class(class_path: str) -> type:
    """The class named `package.module.Class`."""
    module_name, _, name = class_path.rpartition(".")
    if not module_name:
        raise ConfigError(f"backend.class_path {class_path!r} is not a dotted path package.module.Class")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"backend.class_path {class_path!r} cannot be imported: {error}") from error


def load_config(
    path: str | Path, overrides: Sequence[str] = (), values: dict[str, Any] | None = None
) -> ExtractionConfig:
    """Reads a config, applies dotlist `overrides` then `values` (key path -> value, e.g. from CLI flags), validates.

    Raises:
        ConfigError: listing every unknown key, bad choice, missing value or wrong type found.
    """
    bad = [o for o in overrides if "=" not in o]
    if bad:
        raise ConfigError(f"overrides must look like key=value, got {bad}")
    try:
        raw = OmegaConf.load(path)
        raw = OmegaConf.merge(raw, OmegaConf.from_dotlist(list(overrides)))
        for key, value in (values or {}).items():
            OmegaConf.update(raw, key, value, force_add=True)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{path}: {omegaconf_message(error)}") from error
    assert isinstance(raw, DictConfig)
    problems = unknown_keys(raw)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    missing = missing_keys(OmegaConf.to_container(raw, resolve=False))
    if missing:
        raise ConfigError(
            f"{path}: missing values for {', '.join(missing)} (set them in the YAML or on the command line)"
        )
    try:
        config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ExtractionConfig), raw))
    except OmegaConfBaseException as error:
        raise ConfigError(f"{path}: {omegaconf_message(error)}") from error
    assert isinstance(config, ExtractionConfig)
    _check_choices(config, path)
    return config


def unknown_keys(raw: DictConfig) -> list[str]:
    """Every key of `raw` that the schema or the backend's signature does not know, as messages."""
    problems = []
    sections = {"decode": Decoder, "run": RunSettings, "backend": BackendSpec}
    problems += _extra(raw.keys(), _field_names(ExtractionConfig), "")
    for name, schema in sections.items():
        if name in raw and isinstance(raw[name], DictConfig):
            problems += _extra(raw[name].keys(), _field_names(schema), f"{name}.")
    backend = raw.get("backend")
    if isinstance(backend, DictConfig) and "class_path" in backend and not OmegaConf.is_missing(backend, "class_path"):
        try:
            cls = import_class(backend.class_path)
        except ConfigError as error:
            return [*problems, str(error)]
        parameters = inspect.signature(cls).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            init_args = backend.get("init_args") or {}
            known = [name for name in parameters if name != "device"]
            problems += _extra(init_args.keys(), known, "backend.init_args.")
            if "device" in init_args:
                problems.append("backend.init_args.device: set the device with run.device (or --device)")
    return problems


def missing_keys(tree: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose value is OmegaConf's `???` in a plain (unresolved) container, in document order."""
    if isinstance(tree, dict):
        return [k for key, value in tree.items() for k in missing_keys(value, f"{prefix}{key}.")]
    if isinstance(tree, list):
        return [k for i, value in enumerate(tree) for k in missing_keys(value, f"{prefix}{i}.")]
    return [prefix[:-1]] if tree == "???" else []


def _field_names(schema: type) -> list[str]:
    return [f.name for f in dataclasses.fields(schema)]


def _extra(keys: Any, known: Sequence[str], prefix: str) -> list[str]:
    unknown = [str(k) for k in keys if k not in known]
    return [f"unknown key {prefix}{k} (known: {', '.join(known)})" for k in unknown]


def _check_choices(config: ExtractionConfig, path: str | Path) -> None:
    problems = []
    for key, allowed in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value not in allowed:
            problems.append(f"{key}={value!r} is not one of {', '.join(allowed)}")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))


def to_yaml(config: ExtractionConfig) -> str:
    """The resolved config as YAML (what `run --print-config` shows)."""
    return OmegaConf.to_yaml(OmegaConf.structured(config))
