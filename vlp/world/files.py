"""Where a world's files live under its folder, and what `generate_world` reports back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vlp.world.formats import IMAGE_FOLDER

SPLITS: tuple[str, ...] = ("train", "val", "test")
MANIFEST = "world.json"


def split_paths(root: Path) -> dict[str, dict[str, Path]]:
    """The per-split files of a world, by kind ("instances", "captions", ...) and split."""
    return {
        "instances": {s: root / "annotations" / f"instances_{s}.json" for s in SPLITS},
        "captions": {s: root / "annotations" / f"captions_{s}.json" for s in SPLITS},
        "vqa_questions": {s: root / "vqa" / f"v2_OpenEnded_mscoco_{s}_questions.json" for s in SPLITS},
        "vqa_annotations": {s: root / "vqa" / f"v2_mscoco_{s}_annotations.json" for s in SPLITS},
        "scene_graphs": {s: root / "scene_graphs" / f"scene_graphs_{s}.json" for s in SPLITS},
    }


@dataclass(frozen=True)
class WorldFiles:
    """The files of a generated world and how much each split holds.

    Per-split mappings are keyed by split name, `SPLITS`. Image files are `image_dir / file_name` for the `file_name`
    of the COCO jsons (Karpathy's file gives the same path as `root / filepath / filename`).

    Attributes:
        root: the world's folder.
        seed: the seed it was generated from.
        image_size: width and height of every image in pixels.
        manifest: the generator's arguments (`world.json`), which guard the folder against a different world.
        image_dir: the PNG images of all splits.
        karpathy: Karpathy's `dataset_coco.json` (all splits).
        instances: COCO `instances_<split>.json`.
        captions: COCO `captions_<split>.json`.
        vqa_questions: VQA v2 `v2_OpenEnded_mscoco_<split>_questions.json`.
        vqa_annotations: VQA v2 `v2_mscoco_<split>_annotations.json`.
        scene_graphs: gold scene graphs of the captions, `scene_graphs_<split>.json`.
        num_images: images per split.
        num_objects: object instances per split.
        num_captions: captions per split.
        num_questions: VQA questions per split.
    """

    root: Path
    seed: int
    image_size: int
    manifest: Path
    image_dir: Path
    karpathy: Path
    instances: Mapping[str, Path]
    captions: Mapping[str, Path]
    vqa_questions: Mapping[str, Path]
    vqa_annotations: Mapping[str, Path]
    scene_graphs: Mapping[str, Path]
    num_images: Mapping[str, int]
    num_objects: Mapping[str, int]
    num_captions: Mapping[str, int]
    num_questions: Mapping[str, int]

    @classmethod
    def at(cls, root: Path, seed: int, image_size: int, counts: Mapping[str, Mapping[str, int]]) -> WorldFiles:
        """The files of a world in `root`, with `counts[kind][split]` for kind in num_images, num_objects, ...."""
        return cls(
            root=root,
            seed=seed,
            image_size=image_size,
            manifest=root / MANIFEST,
            image_dir=root / IMAGE_FOLDER,
            karpathy=root / "annotations" / "dataset_coco.json",
            **split_paths(root),
            **{kind: dict(per_split) for kind, per_split in counts.items()},
        )

    def describe(self) -> str:
        """A table of the world's files and of what each split holds, for people."""
        total_images = sum(self.num_images.values())
        lines = [
            f"synthetic world in {self.root}: {total_images} images of {self.image_size}x{self.image_size} px, "
            f"seed {self.seed}",
            "",
            f"{'split':<7}{'images':>8}{'objects':>9}{'captions':>10}{'questions':>11}",
        ]
        for split in SPLITS:
            lines.append(
                f"{split:<7}{self.num_images[split]:>8}{self.num_objects[split]:>9}{self.num_captions[split]:>10}"
                f"{self.num_questions[split]:>11}"
            )
        files = [(self.image_dir, f"{total_images} PNG images"), (self.karpathy, "Karpathy split, all splits")]
        for kind, per_split in (
            ("COCO instances", self.instances),
            ("COCO captions", self.captions),
            ("VQA v2 questions", self.vqa_questions),
            ("VQA v2 annotations", self.vqa_annotations),
            ("caption scene graphs", self.scene_graphs),
        ):
            files += [(path, f"{kind}, {split}") for split, path in per_split.items()]
        files.append((self.manifest, "generator arguments"))
        width = max(len(str(path.relative_to(self.root))) for path, _ in files) + 2
        lines += ["", "files:"] + [f"  {path.relative_to(self.root)!s:<{width}}{what}" for path, what in files]
        return "\n".join(lines)
