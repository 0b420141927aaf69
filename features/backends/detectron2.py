"""The detectron2 backend: a bottom-up-attention Faster R-CNN C4 (res5 pooled region features, VG objects/attributes).

Per image: resize (shorter side `INPUT.MIN_SIZE_TEST`, longer side at most `INPUT.MAX_SIZE_TEST`, bilinear as Caffe's
`cv2.resize`), subtract the pixel mean in `INPUT.FORMAT` channel order, backbone to res4, RPN proposals, RoI pooling
and res5 mean-pooled per proposal (the region feature), class probabilities; then the bottom-up-attention selection
(`detectron2_select`), and attributes for the kept regions conditioned on their classes. The boxes are the proposals
(`box_source: proposal`, as bottom-up-attention's `generate_tsv.py` and VinVL's extraction with
`TEST.IGNORE_BOX_REGRESSION`), so each feature is pooled from exactly its box; `box_source: regressed` runs NMS on the
class-specific regressed boxes and stores the chosen class's box instead (the feature still comes from the proposal).

Images go through the network one at a time: padding a batch to one size would change the features of the images
near their borders (convolutions would see padding where a single image sees zeros), and bottom-up-attention ran one
image at a time too; a 600x1000 image alone keeps a GPU busy.

detectron2 is optional and imported only when the backend is built, so this module imports without it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from features.backends.base import Detections, ImageRecord
from features.backends.common import file_fingerprint, resolve_device
from features.backends.detectron2_select import select_regions, top_attributes
from features.backends.detectron2_vocab import names_digest, read_names

logger = logging.getLogger(__name__)

BOX_SOURCES = ("proposal", "regressed")
MISSING_DETECTRON2 = (
    'detectron2 is not installed: see the README section "detectron2 backend" (it is built from source) ({error})'
)


def resize_scale(height: int, width: int, min_size: int, max_size: int) -> float:
    """Caffe Faster R-CNN's test scale: the shorter side to `min_size` unless the longer would pass `max_size`."""
    if min_size <= 0:
        return 1.0
    scale = min_size / min(height, width)
    if round(scale * max(height, width)) > max_size:
        scale = max_size / max(height, width)
    return scale


@dataclass
class ProposalOutputs:
    """Every proposal of one image before selection, in the coordinates of `ImageRecord.pixels`.

    Attributes:
        boxes: [R, 4] proposal boxes x1, y1, x2, y2.
        nms_boxes: the boxes that NMS and the stored regions use: `boxes`, or [R, C, 4] class-specific regressed boxes.
        features: [R, D] res5 mean-pooled features.
        class_probs: [R, C + 1] softmax over the classes, background last.
    """

    boxes: torch.Tensor
    nms_boxes: torch.Tensor
    features: torch.Tensor
    class_probs: torch.Tensor


class Detectron2Backend:
    """Bottom-up-attention region features from a detectron2 Faster R-CNN C4 (see the module docstring).

    Args:
        model: detectron2 config values (upper-case keys as in detectron2's YAML, plus `MODEL.BUTD.*` of
            `detectron2_model.add_butd_config`), merged over detectron2's defaults; unknown keys are errors.
        weights: checkpoint path (see `detectron2_weights.load_weights`); None builds random weights (tests only).
        weights_format: "auto", "detectron2", "butd_caffe" or "vinvl" (see `detectron2_weights.load_weights`).
        label_names: object names by class index (background excluded): a list, a one-per-line file, or a VinVL json.
        attribute_names: attribute names ("no attribute" excluded), the same forms; required with an attribute head.
        score_threshold: keep regions whose score after NMS is at least this.
        nms_threshold: IoU of the per-class NMS.
        min_boxes: regions per image at least (the best ones, whatever their score).
        max_boxes: regions per image at most; equal to `min_boxes` for a fixed count (e.g. 36).
        box_source: "proposal" or "regressed" (see the module docstring).
        max_attributes_per_region: attributes stored per region at most.
        attribute_threshold: store an attribute only if its probability is at least this.
        seed: seed of random weights (so that every process builds the same ones).
        device: "auto", "cpu", "cuda" or "cuda:N".

    Raises:
        ImportError: detectron2 is not installed.
        ValueError: a setting, vocabulary size or weights file that does not fit.
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        weights: str | None = None,
        *,
        weights_format: str = "auto",
        label_names: str | Sequence[str],
        attribute_names: str | Sequence[str] | None = None,
        score_threshold: float = 0.2,
        nms_threshold: float = 0.3,
        min_boxes: int = 10,
        max_boxes: int = 100,
        box_source: str = "proposal",
        max_attributes_per_region: int = 3,
        attribute_threshold: float = 0.1,
        seed: int = 0,
        device: str = "auto",
    ):
        try:
            import detectron2
            from detectron2.config import CfgNode, get_cfg

            from features.backends.detectron2_model import add_butd_config, build_butd_model
            from features.backends.detectron2_weights import load_weights
        except ImportError as error:
            raise ImportError(MISSING_DETECTRON2.format(error=error)) from error
        if box_source not in BOX_SOURCES:
            raise ValueError(f"box_source must be one of {BOX_SOURCES}, got {box_source!r}")
        if not 1 <= min_boxes <= max_boxes:
            raise ValueError(f"need 1 <= min_boxes <= max_boxes, got {min_boxes} and {max_boxes}")
        self.cfg = add_butd_config(get_cfg())
        self.cfg.merge_from_other_cfg(CfgNode(_plain(model)))
        self.cfg.freeze()
        self.settings = {
            "score_threshold": score_threshold,
            "nms_threshold": nms_threshold,
            "min_boxes": min_boxes,
            "max_boxes": max_boxes,
            "box_source": box_source,
            "max_attributes_per_region": max_attributes_per_region,
            "attribute_threshold": attribute_threshold,
        }
        self._set_vocabularies(label_names, attribute_names, max_attributes_per_region)
        self.device = resolve_device(device)
        self.weights, self.seed = weights, seed
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = build_butd_model(self.cfg)
        if weights is None:
            message = f"detectron2 backend has RANDOM WEIGHTS (seed {seed}): pass `weights` for real features."
            logger.warning(message)
            warnings.warn(message, UserWarning, stacklevel=2)
            self.weights_format = "random"
        else:
            self.weights_format = load_weights(self.model, weights, weights_format, self.cfg.MODEL.RESNETS.DEPTH)
        self.model.to(self.device).eval()
        self.detectron2_version = detectron2.__version__
        self.feature_dim = self.model.roi_heads.box_predictor.cls_score.in_features

    def _set_vocabularies(
        self, label_names: str | Sequence[str], attribute_names: str | Sequence[str] | None, per_region: int
    ) -> None:
        self.label_names = read_names(label_names, "label_to_idx")
        if len(self.label_names) != self.cfg.MODEL.ROI_HEADS.NUM_CLASSES:
            raise ValueError(
                f"{len(self.label_names)} label names for MODEL.ROI_HEADS.NUM_CLASSES="
                f"{self.cfg.MODEL.ROI_HEADS.NUM_CLASSES} classes"
            )
        self.attribute_names: list[str] = []
        self.max_attributes_per_region = 0
        if self.cfg.MODEL.BUTD.ATTRIBUTE_ON:
            if attribute_names is None:
                raise ValueError("the model has an attribute head (MODEL.BUTD.ATTRIBUTE_ON): give attribute_names")
            self.attribute_names = read_names(attribute_names, "attribute_to_idx")
            if len(self.attribute_names) != self.cfg.MODEL.BUTD.NUM_ATTRIBUTES:
                raise ValueError(
                    f"{len(self.attribute_names)} attribute names for MODEL.BUTD.NUM_ATTRIBUTES="
                    f"{self.cfg.MODEL.BUTD.NUM_ATTRIBUTES}"
                )
            self.max_attributes_per_region = per_region

    def provenance(self) -> dict[str, Any]:
        """Backend, detectron2 version and full config, weights (by content hash), selection settings, vocabularies."""
        return {
            "backend": "detectron2",
            "detectron2_version": self.detectron2_version,
            "model_config": self.cfg.dump(),
            "weights": file_fingerprint(self.weights) if self.weights else {"random_init_seed": self.seed},
            "weights_format": self.weights_format,
            **self.settings,
            "label_names_sha256": names_digest(self.label_names),
            "attribute_names_sha256": names_digest(self.attribute_names),
        }

    @torch.inference_mode()
    def detect(self, images: list[ImageRecord]) -> list[Detections]:
        """The kept regions of each image, in order (boxes in the image's full-size coordinates)."""
        return [self._detect_one(record) for record in images]

    def _detect_one(self, record: ImageRecord) -> Detections:
        outputs = self.proposals(record)
        settings = self.settings
        selection = select_regions(
            outputs.nms_boxes,
            outputs.class_probs[:, :-1],
            score_threshold=settings["score_threshold"],
            nms_threshold=settings["nms_threshold"],
            min_boxes=settings["min_boxes"],
            max_boxes=settings["max_boxes"],
        )
        boxes = outputs.nms_boxes[selection.indices]
        if boxes.dim() == 3:
            boxes = boxes[torch.arange(len(boxes), device=boxes.device), selection.labels]
        features = outputs.features[selection.indices]
        detections = Detections(
            features=features.float().cpu().numpy(),
            boxes=boxes.float().cpu().numpy() * record.pixel_scale(),
            scores=selection.scores.float().cpu().numpy(),
            labels=selection.labels.cpu().numpy(),
        )
        head = self.model.roi_heads.attribute_head
        if head is not None:
            probs = F.softmax(head(features, selection.labels), dim=1)
            attributes, scores = top_attributes(probs, self.max_attributes_per_region, settings["attribute_threshold"])
            detections.attributes = attributes.cpu().numpy()
            detections.attribute_scores = scores.float().cpu().numpy()
        return detections

    @torch.inference_mode()
    def proposals(self, record: ImageRecord) -> ProposalOutputs:
        """Runs the detector on one image up to the class probabilities of every proposal (before selection)."""
        from detectron2.structures import Boxes

        height, width = record.size
        input_cfg = self.cfg.INPUT
        scale = resize_scale(height, width, input_cfg.MIN_SIZE_TEST, input_cfg.MAX_SIZE_TEST)
        size = (int(height * scale + 0.5), int(width * scale + 0.5))
        image = torch.from_numpy(np.ascontiguousarray(record.pixels)).to(self.device).permute(2, 0, 1).float()
        if input_cfg.FORMAT == "BGR":
            image = image.flip(0)
        if size != (height, width):
            image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        model = self.model
        images = model.preprocess_image([{"image": image}])
        features = model.backbone(images.tensor)
        proposals, _ = model.proposal_generator(images, features, None)
        boxes = proposals[0].proposal_boxes
        if len(boxes) == 0:  # every anchor filtered out (a sliver of an image): the whole image is the one proposal
            boxes = Boxes(torch.tensor([[0.0, 0.0, size[1], size[0]]], device=self.device))
        pooled = model.roi_heads.pooled_features(features, [boxes])
        logits, deltas = model.roi_heads.box_predictor(pooled)
        to_pixels = torch.tensor([width / size[1], height / size[0]] * 2, device=self.device)
        limits = torch.tensor([width, height] * 2, device=self.device)
        nms_boxes = boxes.tensor
        if self.settings["box_source"] == "regressed":
            regressed = model.roi_heads.box_predictor.box2box_transform.apply_deltas(deltas, boxes.tensor)
            regressed = Boxes(regressed.view(-1, 4))
            regressed.clip(size)
            # A class-agnostic regressor gives one box per proposal: every class shares it.
            nms_boxes = regressed.tensor.view(len(boxes), -1, 4).expand(-1, logits.shape[1] - 1, -1)
        return ProposalOutputs(
            boxes=(boxes.tensor * to_pixels).minimum(limits),
            nms_boxes=(nms_boxes * to_pixels).minimum(limits),
            features=pooled,
            class_probs=F.softmax(logits, dim=1),
        )


def _plain(value: Any) -> Any:
    """Nested mappings as plain dicts (detectron2's CfgNode needs dicts, not OmegaConf containers)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
