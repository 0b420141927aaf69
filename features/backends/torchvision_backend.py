"""The torchvision backend: any `torchvision.models.detection` model, weights from a local file, COCO labels as tags.

The model runs as torchvision ships it, with its own resizing and post-processing (per-class NMS at `nms_threshold`,
at most `max_boxes`). The kept boxes are those scoring at least `score_threshold`, but at least `min_boxes` (the
top-scoring ones whatever their score) and at most `max_boxes`:
- R-CNN models post-process with the score threshold itself: torchvision runs NMS on every class-specific box above
  it, and with no threshold that is 90 classes x 1000 proposals per image, seconds of NMS. An image left with fewer than
  `min_boxes` is post-processed again, by the same torchvision code, from the classifier outputs of the same forward
  pass, with the threshold lowered to let only its `min_boxes * CANDIDATES_PER_BOX` best class scores through; greedy
  NMS keeps the same boxes among those as it would among all of them.
- single-stage models (RetinaNet, FCOS, SSD) post-process with no threshold, their candidates being capped per level or
  class already (`topk_candidates`).
Features are pooled again from the backbone output of the same forward pass (captured by a hook), at the kept boxes:
- R-CNN models (Faster, Mask, Keypoint R-CNN): the box head's representation (1024-d for the standard heads), the
  features the classifier saw, for the final boxes;
- single-stage models (RetinaNet, FCOS, SSD): RoIAlign on the finest backbone level averaged over the grid
  (256-d for the FPN models), as they have no box head.
An image whose detections were all suppressed gets one whole-image region, labelled `__background__` with score 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torchvision
from torchvision.ops import roi_align

from features.backends.base import Detections, ImageRecord
from features.backends.common import build_with_weights, file_fingerprint, image_tensor, level_scale, resolve_device

POOLED_SIZE = 7
SAMPLING_RATIO = 2
# Class scores that an R-CNN image short of `min_boxes` lets into NMS, per box wanted.
CANDIDATES_PER_BOX = 20


class TorchvisionBackend:
    """Detections and box features of a torchvision detection model.

    Args:
        model: a name of `torchvision.models.list_models(module=torchvision.models.detection)`.
        weights: the model's state dict file (required: a detector with random weights detects nothing useful).
        label_names: class names by the model's class index (index 0 is the background); default the categories of
            the model's COCO weights (91 names with `__background__` and `N/A` gaps, as torchvision numbers them).
        score_threshold: keep detections scoring at least this.
        nms_threshold: IoU of per-class non-maximum suppression.
        min_boxes: boxes kept per image even below the threshold.
        max_boxes: boxes kept per image at most.
        min_size: shorter side the model resizes images to (R-CNN, RetinaNet, FCOS); None keeps the model's default.
        max_size: longer side limit of that resizing; None keeps the model's default.
        device: where the model runs.
    """

    def __init__(
        self,
        model: str = "fasterrcnn_resnet50_fpn",
        weights: str | None = None,
        *,
        label_names: list[str] | None = None,
        score_threshold: float = 0.2,
        nms_threshold: float = 0.3,
        min_boxes: int = 10,
        max_boxes: int = 100,
        min_size: int | None = None,
        max_size: int | None = None,
        device: str = "cpu",
    ) -> None:
        if weights is None:
            raise ValueError(f"the torchvision backend needs weights: a state dict file of {model}")
        if not 1 <= min_boxes <= max_boxes:
            raise ValueError(f"need 1 <= min_boxes <= max_boxes, got min_boxes={min_boxes}, max_boxes={max_boxes}")
        self.label_names = list(label_names) if label_names is not None else _coco_categories(model)
        self.attribute_names: list[str] = []
        self.max_attributes_per_region = 0
        self.settings = {
            "model": model,
            "score_threshold": score_threshold,
            "nms_threshold": nms_threshold,
            "min_boxes": min_boxes,
            "max_boxes": max_boxes,
            "min_size": min_size,
            "max_size": max_size,
        }
        self.weights = weights
        self.device = resolve_device(device)
        sizes = {k: v for k, v in (("min_size", min_size), ("max_size", max_size)) if v is not None}
        self.model = build_with_weights(
            lambda: torchvision.models.get_model(
                model, weights=None, weights_backbone=None, num_classes=len(self.label_names), **sizes
            ),
            weights,
            seed=0,
            what=model,
        ).to(self.device)
        self.heads = getattr(self.model, "roi_heads", None)  # R-CNN models only
        self._configure_postprocessing(score_threshold if self.heads is not None else 0.0, nms_threshold, max_boxes)
        self._captured: dict[str, Any] = {}
        self.model.backbone.register_forward_hook(lambda _m, _i, output: self._captured.update(features=output))
        self.model.transform.register_forward_hook(lambda _m, _i, output: self._captured.update(inputs=output[0]))
        if self.heads is not None:  # what a second post-processing needs: proposals and the classifier's outputs
            self.heads.register_forward_pre_hook(lambda _m, args: self._captured.update(proposals=args[1]))
            self.heads.box_predictor.register_forward_hook(lambda _m, _i, out: self._captured.update(predictions=out))
        self.feature_dim = self._probe_feature_dim()

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": "torchvision",
            **self.settings,
            "weights": file_fingerprint(self.weights),
            "label_names": self.label_names,
            "features": "box_head" if self.heads is not None else f"roi_align_mean_{POOLED_SIZE}x{POOLED_SIZE}",
        }

    @torch.inference_mode()
    def detect(self, images: list[ImageRecord]) -> list[Detections]:
        """The kept detections of every image, with their box features, in the images' order."""
        outputs = self.model([image_tensor(record.pixels, self.device) for record in images])
        inputs = self._captured["inputs"]
        for i, (output, record) in enumerate(zip(outputs, images, strict=True)):
            short = int((output["scores"] >= self.settings["score_threshold"]).sum()) < self.settings["min_boxes"]
            if short and self.heads is not None:
                outputs[i] = self._best_candidates(i, inputs.image_sizes, record)
        kept = [self._keep(output, record) for output, record in zip(outputs, images, strict=True)]
        input_boxes = []
        for (boxes, _, _), record, (height, width) in zip(kept, images, inputs.image_sizes, strict=True):
            pixel_height, pixel_width = record.size
            ratio = torch.tensor([width / pixel_width, height / pixel_height] * 2, device=self.device)
            input_boxes.append(boxes * ratio)
        features = self.pool(self._captured["features"], input_boxes, inputs.image_sizes, inputs.tensors.shape[-1])
        return [
            Detections(
                features=pooled.float().cpu().numpy(),
                boxes=boxes.cpu().numpy() * record.pixel_scale(),
                scores=scores.cpu().numpy(),
                labels=labels.cpu().numpy(),
            )
            for pooled, (boxes, scores, labels), record in zip(features, kept, images, strict=True)
        ]

    def pool(
        self, features: Any, boxes: list[torch.Tensor], image_sizes: list[tuple[int, int]], input_width: int
    ) -> list[torch.Tensor]:
        """Features of boxes given in model-input coordinates.

        Args:
            features: the backbone output (an ordered dict of [N, C, h, w] maps, or one map).
            boxes: N tensors [K_i, 4].
            image_sizes: (height, width) of each image inside the padded input.
            input_width: width of the padded input batch.

        Returns:
            N tensors [K_i, D].
        """
        if self.heads is not None:
            pooled = self.heads.box_head(self.heads.box_roi_pool(features, boxes, image_sizes))
        else:
            finest = next(iter(features.values())) if isinstance(features, dict) else features
            scale = level_scale(finest.shape[-1], input_width)
            pooled = roi_align(finest, boxes, POOLED_SIZE, scale, SAMPLING_RATIO, aligned=True).mean(dim=(2, 3))
        return list(pooled.split([len(b) for b in boxes]))

    def _best_candidates(
        self, index: int, image_sizes: list[tuple[int, int]], record: ImageRecord
    ) -> dict[str, torch.Tensor]:
        """R-CNN detections of image `index` of the last batch from its `min_boxes * CANDIDATES_PER_BOX` best class
        scores, in `record.pixels` coordinates, as torchvision's own post-processing gives them."""
        proposals = self._captured["proposals"]
        counts = [len(p) for p in proposals]
        logits, regression = (t.split(counts)[index] for t in self._captured["predictions"])
        scores = torch.softmax(logits, -1)[:, 1:].flatten()
        wanted = min(scores.numel(), self.settings["min_boxes"] * CANDIDATES_PER_BOX)
        floor = scores.topk(wanted).values[-1]
        threshold = self.heads.score_thresh
        # torchvision keeps scores strictly above its threshold: set it just below the lowest candidate.
        self.heads.score_thresh = float(torch.nextafter(floor, torch.zeros_like(floor)))
        try:
            (boxes,), (kept_scores,), (labels,) = self.heads.postprocess_detections(
                logits, regression, [proposals[index]], [image_sizes[index]]
            )
        finally:
            self.heads.score_thresh = threshold
        (height, width), (pixel_height, pixel_width) = image_sizes[index], record.size
        ratio = torch.tensor([pixel_width / width, pixel_height / height] * 2, device=boxes.device)
        return {"boxes": boxes * ratio, "scores": kept_scores, "labels": labels}

    def _keep(self, output: dict[str, torch.Tensor], record: ImageRecord) -> tuple[torch.Tensor, ...]:
        """Boxes ([K, 4], `record.pixels` coordinates), scores and labels of the kept detections, best first."""
        order = torch.argsort(output["scores"], descending=True)
        boxes, scores, labels = output["boxes"][order], output["scores"][order], output["labels"][order]
        above = int((scores >= self.settings["score_threshold"]).sum())
        count = min(max(above, self.settings["min_boxes"]), self.settings["max_boxes"], len(scores))
        if count == 0:
            height, width = record.size
            whole = torch.tensor([[0.0, 0.0, width, height]], device=self.device)
            return whole, torch.zeros(1, device=self.device), torch.zeros(1, dtype=torch.int64, device=self.device)
        return boxes[:count], scores[:count], labels[:count]

    def _configure_postprocessing(self, score_threshold: float, nms_threshold: float, max_boxes: int) -> None:
        """Sets the thresholds where the model keeps them: its `roi_heads` (R-CNN) or the model itself."""
        target = getattr(self.model, "roi_heads", self.model)
        missing = [a for a in ("score_thresh", "nms_thresh", "detections_per_img") if not hasattr(target, a)]
        if missing:
            raise ValueError(f"{type(self.model).__name__} has no {', '.join(missing)}: not a supported detector")
        target.score_thresh, target.nms_thresh, target.detections_per_img = score_threshold, nms_threshold, max_boxes

    def _probe_feature_dim(self) -> int:
        with torch.inference_mode():
            probe = ImageRecord("probe", "", np.zeros((64, 64, 3), dtype=np.uint8))
            return int(self.detect([probe])[0].features.shape[1])


def _coco_categories(model: str) -> list[str]:
    """The class names of the model's published weights (their metadata ships with torchvision, nothing downloads)."""
    try:
        return list(next(iter(torchvision.models.get_model_weights(model))).meta["categories"])
    except (ValueError, KeyError, StopIteration) as error:
        raise ValueError(f"{model} has no published categories: pass label_names") from error
