"""Loading weights into the detectron2 backend's model; a missing, unexpected or misshapen key is an error."""

from __future__ import annotations

from detectron2.checkpoint import DetectionCheckpointer
from torch import nn

from features.weights.butd_vg import convert_butd_state_dict, is_butd_state_dict
from features.weights.layout import ConversionReport, read_state_dict
from features.weights.vinvl_vg import convert_vinvl_state_dict, is_vinvl_state_dict

WEIGHT_FORMATS = ("auto", "detectron2", "butd_caffe", "vinvl")


class _RecordingCheckpointer(DetectionCheckpointer):
    """detectron2's checkpointer (it reads .pth and Detectron .pkl files), keeping the mismatches it only logs."""

    incompatible = None

    def _log_incompatible_keys(self, incompatible) -> None:
        self.incompatible = incompatible


def _fail_on(path: str, problems: dict[str, list]) -> None:
    lines = [f"  {kind}: {', '.join(map(str, names))}" for kind, names in problems.items() if names]
    if lines:
        raise ValueError(f"weights {path} do not fit the detector:\n" + "\n".join(lines))


def _load_detectron2(model: nn.Module, path: str) -> None:
    checkpointer = _RecordingCheckpointer(model)
    checkpointer.load(path)
    incompatible = checkpointer.incompatible
    if incompatible is not None:
        _fail_on(
            path,
            {
                "missing": incompatible.missing_keys,
                "unexpected": incompatible.unexpected_keys,
                "wrong shape (key, checkpoint, model)": incompatible.incorrect_shapes,
            },
        )


def _load_converted(model: nn.Module, path: str, converted: dict, report: ConversionReport) -> None:
    _fail_on(path, {"missing (source names)": report.missing, "unexpected (source names)": report.unexpected})
    result = model.load_state_dict(converted, strict=False)
    _fail_on(path, {"missing": result.missing_keys, "unexpected": result.unexpected_keys})


def load_weights(model: nn.Module, path: str, weights_format: str = "auto", depth: int = 101) -> str:
    """Loads a checkpoint into a model built by `build_butd_model`.

    Args:
        model: the detector.
        path: a detectron2 `.pth` or Detectron `.pkl`; a Caffe-named bottom-up-attention state dict
            (`features.weights.butd_vg`); or a maskrcnn_benchmark VinVL checkpoint (`features.weights.vinvl_vg`).
        weights_format: "detectron2", "butd_caffe", "vinvl", or "auto" (`.pkl` is detectron2; otherwise the key
            names decide).
        depth: ResNet depth, for the key maps.

    Returns:
        the format that was loaded.

    Raises:
        ValueError: on an unknown format or any key that does not fit.
    """
    if weights_format not in WEIGHT_FORMATS:
        raise ValueError(f"weights_format must be one of {WEIGHT_FORMATS}, got {weights_format!r}")
    if weights_format == "detectron2" or (weights_format == "auto" and path.endswith(".pkl")):
        _load_detectron2(model, path)
        return "detectron2"
    state_dict = read_state_dict(path)
    if weights_format == "auto":
        weights_format = "detectron2"
        if is_butd_state_dict(state_dict):
            weights_format = "butd_caffe"
        elif is_vinvl_state_dict(state_dict):
            weights_format = "vinvl"
    attributes = getattr(model.roi_heads, "attribute_head", None) is not None
    if weights_format == "butd_caffe":
        _load_converted(model, path, *convert_butd_state_dict(state_dict, depth=depth, attributes=attributes))
    elif weights_format == "vinvl":
        _load_converted(model, path, *convert_vinvl_state_dict(state_dict, depth=depth, attributes=attributes))
    else:
        _load_detectron2(model, path)
    return weights_format
