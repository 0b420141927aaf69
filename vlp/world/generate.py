"""`generate_world`: draws every image's scene, pixels, captions and questions, and writes the world's files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from vlp.world.captions import CAPTIONS_PER_IMAGE, generate_captions
from vlp.world.files import MANIFEST, SPLITS, WorldFiles
from vlp.world.formats import (
    IMAGE_FOLDER,
    WorldImage,
    coco_captions,
    coco_instances,
    image_file_name,
    info,
    karpathy_split,
    scene_graphs,
    vqa_annotations,
    vqa_questions,
    write_json,
)
from vlp.world.questions import generate_questions
from vlp.world.render import render_scene, save_png
from vlp.world.scene import sample_scene

MIN_IMAGE_SIZE = 32
# Karpathy-style fractions of the images in val and test (each split gets at least one image); the rest is train.
HELD_OUT_FRACTION = 0.1
# COCO image ids are sparse; gaps between consecutive ids are drawn from [1, MAX_ID_GAP] so that no code can get away
# with treating an image id as an index.
MAX_ID_GAP = 20
# Version of what the generator writes; part of the manifest, so a folder written by an older generator is not reused.
FORMAT_VERSION = 1


def _claim_folder(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Makes `out_dir` ready for a world with these arguments, refusing to mix two different worlds in one folder.

    Raises:
        FileExistsError: if `out_dir` holds a world generated with other arguments, or other files.
    """
    manifest_path = out_dir / MANIFEST
    if manifest_path.is_file():
        existing = json.loads(manifest_path.read_text())
        if existing != manifest:
            differences = ", ".join(
                f"{key} {existing.get(key)!r} (asked {value!r})"
                for key, value in manifest.items()
                if existing.get(key) != value
            )
            raise FileExistsError(
                f"{out_dir} holds a synthetic world generated with other arguments: {differences}. "
                "Use another folder, or delete this one first."
            )
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty and holds no {MANIFEST}: refusing to write a world into it.")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Written first, so that an interrupted run can simply be run again with the same arguments.
    write_json(manifest_path, manifest)


def _assign_splits(num_images: int, rng: np.random.Generator) -> list[str]:
    """Karpathy-style split of image indices: a random `HELD_OUT_FRACTION` each to val and test, the rest to train."""
    held_out = max(1, round(HELD_OUT_FRACTION * num_images))
    order = rng.permutation(num_images)
    splits = ["train"] * num_images
    for i in order[:held_out]:
        splits[i] = "val"
    for i in order[held_out : 2 * held_out]:
        splits[i] = "test"
    return splits


def generate_world(out_dir: Path, num_images: int = 2000, seed: int = 0, image_size: int = 128) -> WorldFiles:
    """Generates the synthetic demo world and writes it in the official formats.

    The output depends only on the arguments: the same arguments give byte-identical files. Every image draws from its
    own random streams (scene, pixels, captions, questions), all spawned from `seed`.

    Layout under `out_dir`:
        images/COCO_synth_<12-digit id>.png, annotations/instances_<split>.json, annotations/captions_<split>.json,
        annotations/dataset_coco.json (Karpathy), vqa/v2_OpenEnded_mscoco_<split>_questions.json,
        vqa/v2_mscoco_<split>_annotations.json, scene_graphs/scene_graphs_<split>.json, world.json (the arguments),
        for split in train, val, test.

    Args:
        out_dir: the folder to write into; created if missing. It must be empty, or hold a world generated with the
            same arguments (which is then overwritten).
        num_images: number of images over all splits (at least 3: one per split).
        seed: the seed of everything random.
        image_size: width and height of the square images in pixels (at least `MIN_IMAGE_SIZE`).

    Returns:
        The paths written and how much each split holds.

    Raises:
        ValueError: for too few images or too small images.
        FileExistsError: if `out_dir` holds anything but a world generated with the same arguments.
    """
    if num_images < len(SPLITS):
        raise ValueError(f"num_images must be at least {len(SPLITS)} (one image per split), got {num_images}")
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size must be at least {MIN_IMAGE_SIZE} pixels, got {image_size}")
    out_dir = Path(out_dir)
    manifest = {
        "generator": "vlp.world",
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "num_images": num_images,
        "image_size": image_size,
    }
    _claim_folder(out_dir, manifest)
    (out_dir / IMAGE_FOLDER).mkdir(exist_ok=True)

    dataset_sequence, images_sequence = np.random.SeedSequence(seed).spawn(2)
    dataset_rng = np.random.default_rng(dataset_sequence)
    image_ids = np.cumsum(dataset_rng.integers(1, MAX_ID_GAP + 1, size=num_images)).tolist()
    splits = _assign_splits(num_images, dataset_rng)

    images: list[WorldImage] = []
    next_annotation_id, next_caption_id = 1, 1
    for image_id, split, sequence in zip(image_ids, splits, images_sequence.spawn(num_images), strict=True):
        scene_rng, pixel_rng, caption_rng, question_rng = (np.random.default_rng(s) for s in sequence.spawn(4))
        scene = sample_scene(scene_rng, image_id, image_size, next_annotation_id)
        save_png(render_scene(scene, pixel_rng), out_dir / IMAGE_FOLDER / image_file_name(image_id))
        captions = generate_captions(scene, caption_rng, next_caption_id)
        questions = generate_questions(scene, question_rng)
        images.append(WorldImage(scene, split, tuple(captions), tuple(questions)))
        next_annotation_id += len(scene.objects)
        next_caption_id += CAPTIONS_PER_IMAGE

    by_split = {split: [image for image in images if image.split == split] for split in SPLITS}
    counts = {
        "num_images": {split: len(chosen) for split, chosen in by_split.items()},
        "num_objects": {split: sum(len(i.scene.objects) for i in chosen) for split, chosen in by_split.items()},
        "num_captions": {split: sum(len(i.captions) for i in chosen) for split, chosen in by_split.items()},
        "num_questions": {split: sum(len(i.questions) for i in chosen) for split, chosen in by_split.items()},
    }
    files = WorldFiles.at(out_dir, seed, image_size, counts)
    description = f"vlp synthetic demo world: seed {seed}, {num_images} images of {image_size}x{image_size} px"
    info_block = info(description)
    write_json(files.karpathy, karpathy_split(images))
    for split, chosen in by_split.items():
        write_json(files.instances[split], coco_instances(chosen, info_block))
        write_json(files.captions[split], coco_captions(chosen, info_block))
        write_json(files.vqa_questions[split], vqa_questions(chosen, split, info_block))
        write_json(files.vqa_annotations[split], vqa_annotations(chosen, split, info_block))
        write_json(files.scene_graphs[split], scene_graphs(chosen, info_block))
    return files
