"""Zero-shot classification by prompts (CLIP-style) with a model whose InfoNCE embeddings were trained (a retrieval
finetuned folder, or one pretrained with `infonce`).

Each class name goes through every prompt template ("a photo of a {}."); its text embeddings are averaged over the
templates and normalised again, as CLIP ensembles prompts. Each image's embedding is compared with every class's by
cosine similarity. Optionally the cross-encoder re-ranks each image's top classes: the matching head's log-odds of
`[CLS] prompt [SEP] tags [SEP] regions`, averaged over the templates, orders them ahead of the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from vlp.convert.base import VLBundle
from vlp.data.padding import pad_regions, pad_texts
from vlp.data.regions import ImageRegions
from vlp.data.tokenizer import WordPieceTokenizer
from vlp.model.heads import in_float32
from vlp.model.inputs import RegionInputs
from vlp.world import tokenize_caption

DEFAULT_TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "an image of a {}.", "a photo of the {}.")
EMBEDDING_HEADS = ("text_projection", "image_projection")


@dataclass
class ZeroShotClassifier:
    """Scores images against class names through prompt templates.

    Attributes:
        bundle: the model and its `text_projection`, `image_projection` (and, to re-rank, `itm`) heads, in eval mode.
        tokenizer: the model's tokenizer.
        classes: the class names.
        templates: prompt templates, each with one `{}` for the class name.
        max_tokens: the text budget of a prompt and its tags when re-ranking.
        batch_size: texts or images per forward pass.
    """

    bundle: VLBundle
    tokenizer: WordPieceTokenizer
    classes: Sequence[str]
    templates: Sequence[str] = DEFAULT_TEMPLATES
    max_tokens: int = 70
    batch_size: int = 64

    def __post_init__(self) -> None:
        missing = [name for name in EMBEDDING_HEADS if name not in self.bundle.heads]
        if missing:
            raise ValueError(
                f"the model has no {' or '.join(missing)} head: zero-shot needs InfoNCE embeddings (a retrieval "
                "finetuned folder, or a model pretrained with infonce)"
            )
        bad = [template for template in self.templates if template.count("{}") != 1]
        if bad:
            raise ValueError(f"a template must hold '{{}}' once for the class name: {bad[0]!r}")
        if not self.classes:
            raise ValueError("give at least one class name")

    def prompts(self, name: str) -> list[list[str]]:
        """The words of each template filled with `name`."""
        return [tokenize_caption(template.format(name)) for template in self.templates]

    @torch.no_grad()
    def class_embeddings(self) -> Tensor:
        """Float[C, E] each class's unit-norm embedding: its prompts' embeddings averaged."""
        prompts = [words for name in self.classes for words in self.prompts(name)]
        embedded = []
        for start in range(0, len(prompts), self.batch_size):
            encoded = [
                self.tokenizer.encode_pair(w, None, self.max_tokens) for w in prompts[start : start + self.batch_size]
            ]
            text = pad_texts(encoded, self.tokenizer.pad_id)
            embedded.append(self.bundle.model.encode_text(text, self.bundle.heads["text_projection"]))
        per_prompt = torch.cat(embedded).view(len(self.classes), len(self.templates), -1)
        return torch.nn.functional.normalize(per_prompt.mean(dim=1), dim=-1)

    @torch.no_grad()
    def image_embeddings(self, images: Sequence[ImageRegions]) -> Tensor:
        """Float[N, E] each image's unit-norm embedding."""
        return self.bundle.model.encode_image(_regions(images), self.bundle.heads["image_projection"])

    @torch.no_grad()
    def matching(self, image: ImageRegions, class_indices: Sequence[int], tags: bool = True) -> Tensor:
        """Float[K] the cross-encoder's log-odds that the image matches each class, averaged over the templates."""
        if "itm" not in self.bundle.heads:
            raise ValueError("the model has no itm head: re-ranking needs a retrieval finetuned model")
        prompts = [words for index in class_indices for words in self.prompts(self.classes[index])]
        encoded = [
            self.tokenizer.encode_pair(words, image.tag_words if tags else None, self.max_tokens) for words in prompts
        ]
        text = pad_texts(encoded, self.tokenizer.pad_id)
        regions = _regions([image] * len(prompts))
        logits = in_float32(self.bundle.heads["itm"], self.bundle.model(text, regions).pooled_output).float()
        return (logits[:, 1] - logits[:, 0]).view(len(class_indices), len(self.templates)).mean(dim=1)

    def rank(
        self, images: Sequence[ImageRegions], class_embeddings: Tensor, rerank: int = 0, tags: bool = True
    ) -> Tensor:
        """Long[N, C] each image's classes, best first: by embedding similarity, the top `rerank` re-ordered by the
        cross-encoder."""
        order = (self.image_embeddings(images) @ class_embeddings.t()).argsort(dim=1, descending=True, stable=True)
        if rerank > 0:
            for row, image in enumerate(images):
                top = order[row, :rerank]
                scores = self.matching(image, top.tolist(), tags)
                order[row, :rerank] = top[scores.argsort(descending=True, stable=True)]
        return order


def _regions(images: Sequence[ImageRegions]) -> RegionInputs:
    regions = pad_regions(images)
    regions.labels = None
    return regions
