"""Karpathy's split file: its layout, the split itself, and agreement with the COCO captions."""

from __future__ import annotations

from tests.world.reference import LoadedWorld
from vlp.world import SPLITS, tokenize_caption


def test_karpathy_file_has_the_original_keys(world: LoadedWorld) -> None:
    assert set(world.karpathy) == {"dataset", "images"} and world.karpathy["dataset"] == "coco"
    sentids = []
    for imgid, entry in enumerate(world.karpathy["images"]):
        assert set(entry) == {"filepath", "filename", "imgid", "split", "sentids", "cocoid", "sentences"}
        assert entry["imgid"] == imgid and entry["split"] in SPLITS
        assert (world.files.root / entry["filepath"] / entry["filename"]).is_file()
        assert entry["sentids"] == [sentence["sentid"] for sentence in entry["sentences"]]
        for sentence in entry["sentences"]:
            assert set(sentence) == {"tokens", "raw", "imgid", "sentid"} and sentence["imgid"] == imgid
            # Karpathy's tokens: lowercase words without punctuation.
            assert sentence["tokens"] == [t for t in tokenize_caption(sentence["raw"]) if t.isalnum()]
        sentids += entry["sentids"]
    assert len(sentids) == len(set(sentids))


def test_splits_agree_with_the_coco_files(world: LoadedWorld) -> None:
    for split in SPLITS:
        in_karpathy = {e["cocoid"] for e in world.karpathy["images"] if e["split"] == split}
        assert in_karpathy == {image["id"] for image in world.instances[split]["images"]}
        assert in_karpathy == {image["id"] for image in world.captions[split]["images"]}
        assert len(in_karpathy) >= 1
    assert len(world.karpathy["images"]) == len({e["cocoid"] for e in world.karpathy["images"]})


def test_every_caption_appears_in_karpathy(world: LoadedWorld) -> None:
    raw = {(e["cocoid"], e["split"]): sorted(s["raw"] for s in e["sentences"]) for e in world.karpathy["images"]}
    for split in SPLITS:
        by_image: dict[int, list[str]] = {}
        for ann in world.captions[split]["annotations"]:
            by_image.setdefault(ann["image_id"], []).append(ann["caption"])
        assert {(image_id, split): sorted(captions) for image_id, captions in by_image.items()} == {
            key: value for key, value in raw.items() if key[1] == split
        }
