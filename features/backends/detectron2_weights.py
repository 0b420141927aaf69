"""Loading weights into the detectron2 backend's model; a missing, unexpected or misshapen key is an error."""

from __future__ import annotations

from detectron2.checkpoint import DetectionCheckpointer
from torch import nn

from features.weights.butd_vg import convert_butd_state_dict, is_butd_state_dict, read_state_dict

WEIGHT_FORMATS = ("auto", "detectron2", "butd_caffe")


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


def _load_butd(model: nn.Module, path: str, state_dict: dict, depth: int) -> None:
    attributes = getattr(model.roi_heads, "attribute_head", None) is not None
    converted, report = convert_butd_state_dict(state_dict, depth=depth, attributes=attributes)
    _fail_on(path, {"missing (Caffe names)": report.missing, "unexpected (Caffe names)": report.unexpected})
    result = model.load_state_dict(converted, strict=False)
    _fail_on(path, {"missing": result.missing_keys, "unexpected": result.unexpected_keys})


def load_weights(model: nn.Module, path: str, weights_format: str = "auto", depth: int = 101) -> str:
    """Loads a checkpoint into a model built by `build_butd_model`.

    Args:
        model: the detector.
        path: detectron2 `.pth` / Detectron `.pkl`, or a Caffe-named bottom-up-attention state dict (`.pt`, `.pth`).
        weights_format: "detectron2", "butd_caffe", or "auto" (`.pkl` is detectron2; otherwise the key names decide).
        depth: ResNet depth, for the Caffe key map.

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
    if weights_format == "butd_caffe" or is_butd_state_dict(state_dict):
        _load_butd(model, path, state_dict, depth)
        return "butd_caffe"
    _load_detectron2(model, path)
    return "detectron2"
