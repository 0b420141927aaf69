"""The results file of retrieval, `rankings.json`, as `vlp eval retrieval` re-scores it:

```json
{"image_to_text": [{"image_id": 391895, "caption_ids": [770337, ...]}],
 "text_to_image": [{"caption_id": 770337, "image_ids": [391895, ...]}]}
```

Caption ids are the split file's `sentids`; image ids its `cocoid`s (integers) or, for Flickr30K, file name stems.
Each list holds the top ten, best first.
"""

from __future__ import annotations

from typing import Any

from finetune.retrieval.dataset import RetrievalGallery
from finetune.retrieval.gallery import Rankings


def _image_id(image_id: str) -> int | str:
    """COCO's integer ids as integers, as its files write them."""
    return int(image_id) if image_id.isdigit() else image_id


def rankings_json(gallery: RetrievalGallery, rankings: Rankings) -> dict[str, list[dict[str, Any]]]:
    """The rankings of a gallery in the results layout, images and captions in gallery order."""
    image_ids = [_image_id(image_id) for image_id in gallery.image_ids]
    sentids = [caption.sentid for caption in gallery.captions]
    return {
        "image_to_text": [
            {"image_id": image_ids[image], "caption_ids": [sentids[caption] for caption in ranked]}
            for image, ranked in sorted(rankings.image_to_text.items())
        ],
        "text_to_image": [
            {"caption_id": sentids[caption], "image_ids": [image_ids[image] for image in ranked]}
            for caption, ranked in sorted(rankings.text_to_image.items())
        ],
    }
