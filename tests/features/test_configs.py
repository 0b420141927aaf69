"""Every YAML of configs/features is parsed and validated; this suite's configs are also instantiated."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.config import ConfigError, load_config, missing_keys, unknown_keys
from features.decode import Decoder

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "features").glob("*.yaml"))
PLACEHOLDERS = {"input": "in.json", "output": "out.h5", "image_root": "images"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_parses_and_names_a_backend_it_can_build(path):
    from omegaconf import OmegaConf

    raw = OmegaConf.load(path)
    try:
        problems = unknown_keys(raw)
    except ImportError as error:  # a backend whose optional dependency (detectron2) is missing
        pytest.skip(str(error))
    if any("cannot be imported" in p and "detectron2" in p for p in problems):
        pytest.skip("needs detectron2")
    assert problems == []
    required = {key: "placeholder" for key in missing_keys(OmegaConf.to_container(raw, resolve=False))}
    config = load_config(path, values={**required, **PLACEHOLDERS})
    assert isinstance(config.decode, Decoder) and config.run.batch_size >= 1


def test_given_boxes_and_demo_configs_build_their_backends(tmp_path, world):
    for name in ("given_boxes.yaml", "demo_world.yaml"):
        values = {"input": str(world.instances["val"]), "output": str(tmp_path / "o.h5"), "image_root": "x"}
        config = load_config(CONFIGS[0].parent / name, ["backend.init_args.backbone=resnet18"], values)
        assert config.backend.init_args["annotations"] == str(world.instances["val"])  # interpolated from input
        backend = config.backend.build("cpu")
        assert backend.feature_dim > 0 and "image" in backend.label_names


def test_torchvision_config_builds_its_backend(detector_weights):
    values = {**PLACEHOLDERS, "backend.init_args.weights": str(detector_weights)}
    # The config's Faster R-CNN R50 with a mobile backbone and small inputs, to build quickly.
    overrides = ["backend.init_args.model=fasterrcnn_mobilenet_v3_large_320_fpn", "backend.init_args.min_size=64"]
    config = load_config(CONFIGS[0].parent / "torchvision_frcnn.yaml", overrides, values)
    backend = config.backend.build("cpu")
    assert backend.feature_dim == 1024 and backend.provenance()["min_boxes"] == 10


def test_every_problem_is_reported_at_once():
    path = CONFIGS[0].parent / "given_boxes.yaml"
    with pytest.raises(ConfigError) as error:
        load_config(path, ["run.batchsize=2", "decode.size=3", "backend.init_args.device=cpu", "extra=1"], PLACEHOLDERS)
    message = str(error.value)
    for key in ("run.batchsize", "decode.size", "extra"):
        assert f"unknown key {key}" in message
    assert "set the device with run.device" in message
    with pytest.raises(ConfigError, match="missing values for input, output"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"run\.if_exists='keep' is not one of resume, error, overwrite"):
        load_config(path, ["run.if_exists=keep"], PLACEHOLDERS)
    with pytest.raises(ConfigError, match=r"run\.batch_size"):
        load_config(path, ["run.batch_size=many"], PLACEHOLDERS)
    with pytest.raises(ConfigError, match="cannot be imported"):
        load_config(path, ["backend.class_path=features.backends.nowhere.Backend"], PLACEHOLDERS)


def test_a_broken_interpolation_names_the_key_in_one_line(tmp_path):
    source = next(path for path in CONFIGS if path.name == "given_boxes.yaml")
    path = tmp_path / "broken.yaml"
    path.write_text(source.read_text().replace("batch_size: 8", "batch_size: ${run.nowhere}"))
    with pytest.raises(ConfigError) as error:
        load_config(path, [], PLACEHOLDERS)
    message = str(error.value)
    assert message.startswith(f"{path}: key run.batch_size: ") and "nowhere" in message
    assert "\n" not in message
