"""The given-boxes backend: boxes and labels from COCO-style annotations, features pooled from a torchvision backbone.

Each image is resized (shorter side `min_size`, longer side at most `max_size`, as torchvision's detectors do),
normalised with the ImageNet statistics the backbones are trained with, and run through the backbone up to
`feature_node`. Each box is then pooled by RoIAlign (`pooled_size` x `pooled_size`, aligned corners) from that feature
map and averaged over the grid, which gives a C-d feature (2048 for ResNet-50's `layer4`). Images of one batch are
stacked only with images of the same resized shape, so an image's features never depend on which images share its
batch (padding would change them near the borders), which keeps resumed and sharded runs equal to a single run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from torch.nn import functional as F
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names
from torchvision.ops import roi_align

from features.backends.annotations import InstanceIndex
from features.backends.base import Detections, ImageRecord
from features.backends.common import (
    build_with_weights,
    file_fingerprint,
    image_tensor,
    level_scale,
    resolve_device,
    weights_provenance,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class GivenBoxesBackend:
    """Region features of annotated boxes (and optionally of the whole image).

    Args:
        annotations: COCO-style instances json(s) with the boxes of every image.
        backbone: a torchvision classification model name (`resnet50`, `resnet18`, `mobilenet_v3_large`, ...).
        weights: its state dict file; None initialises it randomly from `seed`, with a loud warning.
        feature_node: the backbone node whose [N, C, h, w] output is pooled (`layer4` for ResNets, `features` for
            MobileNets and EfficientNets).
        pooled_size: RoIAlign output grid side; the grid is averaged into one vector per box.
        sampling_ratio: RoIAlign sampling points per bin side.
        min_size: shorter image side after resizing; None keeps decoded images at their size.
        max_size: longer image side limit after resizing.
        whole_image: add a region covering the whole image to every image.
        whole_image_label: the label of that region; it is also the single region of an image without annotations,
            so that no image is left without regions.
        include_crowd: keep COCO `iscrowd` annotations.
        seed: seed of random weights.
        device: where the backbone runs.
    """

    def __init__(
        self,
        annotations: str | Sequence[str],
        backbone: str = "resnet50",
        weights: str | None = None,
        *,
        feature_node: str = "layer4",
        pooled_size: int = 7,
        sampling_ratio: int = 2,
        min_size: int | None = 600,
        max_size: int = 1000,
        whole_image: bool = True,
        whole_image_label: str = "image",
        include_crowd: bool = False,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        paths = [annotations] if isinstance(annotations, (str, Path)) else list(annotations)
        for path in paths:
            if Path(path).suffix.lower() != ".json" or not Path(path).is_file():
                raise ValueError(f"given-boxes annotations must be COCO-style instances json files, got {path}")
        self.index = InstanceIndex(paths, include_crowd=include_crowd)
        self.settings = {
            "backbone": backbone,
            "feature_node": feature_node,
            "pooled_size": pooled_size,
            "sampling_ratio": sampling_ratio,
            "min_size": min_size,
            "max_size": max_size,
            "whole_image": whole_image,
            "whole_image_label": whole_image_label,
            "include_crowd": include_crowd,
        }
        self.weights, self.seed = weights, seed
        self.device = resolve_device(device)
        model = build_with_weights(
            lambda: torchvision.models.get_model(backbone, weights=None), weights, seed, f"given-boxes {backbone}"
        )
        self.extractor = _feature_extractor(model, feature_node).to(self.device)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(3, 1, 1)
        self.feature_dim = self._probe_feature_dim()
        self.label_names = [*self.index.label_names]
        if whole_image_label not in self.label_names:
            self.label_names.append(whole_image_label)
        self._label_index = {name: i for i, name in enumerate(self.label_names)}
        self.attribute_names = list(self.index.attribute_names)
        self._attribute_index = {name: i for i, name in enumerate(self.attribute_names)}
        self.max_attributes_per_region = self.index.max_attributes

    def provenance(self) -> dict[str, Any]:
        return {
            "backend": "given-boxes",
            **self.settings,
            "weights": weights_provenance(self.weights, self.seed),
            "annotations": [file_fingerprint(p) for p in self.index.paths],
            "normalisation": {"mean": IMAGENET_MEAN, "std": IMAGENET_STD},
        }

    @torch.inference_mode()
    def detect(self, images: list[ImageRecord]) -> list[Detections]:
        """Pooled features of every image's given boxes, in the images' order."""
        regions = [self._regions(record) for record in images]
        inputs = [self.model_input(record) for record in images]
        features: list[torch.Tensor | None] = [None] * len(images)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, tensor in enumerate(inputs):
            by_shape.setdefault(tuple(tensor.shape), []).append(i)
        for members in by_shape.values():
            batch = torch.stack([inputs[i] for i in members])
            boxes = [self._input_boxes(images[i], regions[i][0], inputs[i]) for i in members]
            for i, pooled in zip(members, self.pool(batch, boxes), strict=True):
                features[i] = pooled
        return [
            Detections(
                features=pooled.float().cpu().numpy(),
                boxes=boxes,
                scores=np.ones(len(boxes), dtype=np.float32),
                labels=labels,
                attributes=attributes,
                attribute_scores=None if attributes is None else (attributes >= 0).astype(np.float32),
            )
            for pooled, (boxes, labels, attributes) in zip(features, regions, strict=True)
        ]

    def pool(self, batch: torch.Tensor, boxes: list[torch.Tensor]) -> list[torch.Tensor]:
        """RoIAlign-averaged features of boxes.

        Args:
            batch: [N, 3, H, W] normalised images of one shape.
            boxes: N tensors [K_i, 4] of boxes in the coordinates of `batch`.

        Returns:
            N tensors [K_i, C].
        """
        feature_map = self.extractor(batch)["features"]
        scale = level_scale(feature_map.shape[-1], batch.shape[-1])
        size = self.settings["pooled_size"]
        grids = roi_align(feature_map, boxes, size, scale, self.settings["sampling_ratio"], aligned=True)
        return list(grids.mean(dim=(2, 3)).split([len(b) for b in boxes]))

    def _regions(self, record: ImageRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """[K, 4] full-size boxes, [K] label indices and [K, A] attribute indices (-1 pads) of an image."""
        found = self.index.lookup(record.image_id, record.path)
        height, width = record.full_size
        boxes = found.boxes if found is not None else np.zeros((0, 4), np.float32)
        labels = [self._label_index[name] for name in found.labels] if found is not None else []
        attributes = [list(a) for a in found.attributes] if found is not None else []
        if self.settings["whole_image"] or not len(boxes):
            boxes = np.concatenate([boxes, np.array([[0, 0, width, height]], np.float32)])
            labels.append(self._label_index[self.settings["whole_image_label"]])
            attributes.append([])
        packed = None
        if self.max_attributes_per_region:
            packed = np.full((len(boxes), self.max_attributes_per_region), -1, dtype=np.int64)
            for k, names in enumerate(attributes):
                packed[k, : len(names)] = [self._attribute_index[n] for n in names]
        return boxes.astype(np.float32), np.array(labels, dtype=np.int64), packed

    def model_input(self, record: ImageRecord) -> torch.Tensor:
        """The [3, h, w] normalised, resized backbone input of an image, on the backend's device.

        Resizing comes before normalising: bilinear weights sum to one, so the two commute, and normalising the
        smaller image costs less.
        """
        image = image_tensor(record.pixels, self.device)
        if self.settings["min_size"] is not None:
            height, width = image.shape[-2:]
            ratio = min(self.settings["min_size"] / min(height, width), self.settings["max_size"] / max(height, width))
            size = (max(1, round(height * ratio)), max(1, round(width * ratio)))
            image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        return image.sub_(self.mean).div_(self.std)

    def _input_boxes(self, record: ImageRecord, boxes: np.ndarray, tensor: torch.Tensor) -> torch.Tensor:
        """Full-size boxes in the coordinates of the resized input `tensor`."""
        full_height, full_width = record.full_size
        height, width = tensor.shape[-2:]
        scale = np.array([width / full_width, height / full_height] * 2, dtype=np.float32)
        return torch.from_numpy(boxes * scale).to(self.device)

    def _probe_feature_dim(self) -> int:
        with torch.inference_mode():
            output = self.extractor(torch.zeros(1, 3, 64, 64, device=self.device))["features"]
        if output.ndim != 4:
            node = self.settings["feature_node"]
            raise ValueError(f"feature_node {node!r} gives a {output.ndim}-d output, RoIAlign needs [N, C, h, w]")
        return int(output.shape[1])


def _feature_extractor(model: torch.nn.Module, node: str) -> torch.nn.Module:
    try:
        return create_feature_extractor(model, return_nodes={node: "features"}).eval()
    except ValueError as error:
        nodes = [n for n in get_graph_node_names(model)[1] if "." not in n]
        raise ValueError(
            f"feature_node {node!r} is not a node of {type(model).__name__}; top-level nodes: {nodes}"
        ) from error
