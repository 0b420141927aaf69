"""The detectron2 configs of configs/features parse with extract-features' loader, and build where detectron2 is."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from features.config import load_config

CONFIGS = Path(__file__).parents[2] / "configs" / "features"
# config -> (classes, attributes, regions per image)
EXPECTED = {
    "vg_r101_c4.yaml": (1600, 400, (10, 100)),
    "vg_r101_c4_fixed36.yaml": (1600, 400, (36, 36)),
    "vinvl_x152c4.yaml": (1594, 524, (10, 100)),
}
HAS_DETECTRON2 = importlib.util.find_spec("detectron2") is not None


def test_every_detectron2_config_is_listed():
    found = {path.name for path in CONFIGS.glob("*.yaml") if "Detectron2Backend" in path.read_text()}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_parses(name):
    required = {"weights": "w.pth", "label_names": "objects.txt"}
    values = {"input": "images", "output": "out.h5"} | {f"backend.init_args.{k}": v for k, v in required.items()}
    if name.startswith("vg_"):
        values["backend.init_args.attribute_names"] = "attributes.txt"
    config = load_config(CONFIGS / name, values=values)
    assert config.backend.class_path == "features.backends.detectron2.Detectron2Backend"
    init_args = config.backend.init_args
    assert (init_args["min_boxes"], init_args["max_boxes"]) == EXPECTED[name][2]
    assert init_args["attribute_names"] == ("attributes.txt" if name.startswith("vg_") else "objects.txt")


@pytest.mark.skipif(HAS_DETECTRON2, reason="checks the message shown where detectron2 is missing")
def test_missing_detectron2_is_explained():
    from features.backends.detectron2 import Detectron2Backend  # imports without detectron2

    with pytest.raises(ImportError, match='detectron2 is not installed: see the README section "detectron2 backend"'):
        Detectron2Backend({}, label_names=["a"])


@pytest.mark.detectron2
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_config_builds_the_detector(name):
    pytest.importorskip("detectron2")
    classes, attributes, _ = EXPECTED[name]
    values = {"input": "images", "output": "out.h5", "backend.init_args.weights": None}
    values["backend.init_args.label_names"] = [f"object {i}" for i in range(classes)]
    values["backend.init_args.attribute_names"] = [f"attribute {i}" for i in range(attributes)]
    config = load_config(CONFIGS / name, values=values)
    with pytest.warns(UserWarning, match="RANDOM WEIGHTS"):
        backend = config.backend.build("cpu")
    assert backend.feature_dim == 2048
    assert (len(backend.label_names), len(backend.attribute_names)) == (classes, attributes)
