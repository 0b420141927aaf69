"""`GalleryEvaluation`: ranks a `RetrievalGallery` over one evaluation loop, its work split across processes.

The loop hands each process its share of the gallery's images. Per batch, a process embeds its images (fast and
embedding modes) or scores them against every caption of their fold (exact mode). At the loop's end the captions are
embedded, each process a share; in fast mode each process re-scores the shortlisted pairs of its share of the images.
Everything is gathered, so every process ranks the same matrices; each then counts recall for its share of the queries
(`RetrievalRecall` sums the counts), so N processes give the numbers of one. Images the loop did not reach (a
`limit_val_batches` run) are left out, with their captions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from torch import Tensor, nn

from finetune.retrieval.batch import RetrievalBatch
from finetune.retrieval.collate import RetrievalCollate
from finetune.retrieval.dataset import RetrievalGallery
from finetune.retrieval.evaluate import EvaluationMode, PairScorer, rank_fold, shortlisted_pairs, shortlists
from vlp.metrics.retrieval import RetrievalRecall, average
from vlp.model import VLModel
from vlp.train.gather import gather_padded

AllGather = Callable[[Tensor], Tensor]


@dataclass
class Rankings:
    """A gallery ranked: each image's top captions and each caption's top images, as gallery indices (best first).

    Attributes:
        image_to_text: image index -> its top caption indices (indices into `RetrievalGallery.captions`).
        text_to_image: caption index -> its top image indices.
        recall: Recall@1/5/10 both ways and `rsum`, in percent, averaged over the folds.
    """

    image_to_text: dict[int, list[int]]
    text_to_image: dict[int, list[int]]
    recall: dict[str, float]


class GalleryEvaluation:
    """One evaluation loop over a gallery.

    Args:
        gallery: the images and captions.
        collate: tokenises the captions (and the images the fast mode re-reads).
        model: the transformer.
        heads: its `itm`, `text_projection` and `image_projection` heads.
        scorer: the cross-encoder's pair scorer.
        mode: "exact", "fast" or "embedding".
        shortlist: fast: the candidates per query the cross-encoder re-ranks.
        all_gather: the strategy's all-gather (`LightningModule.all_gather`).
        rank: this process's rank, world_size: the number of processes.
        batch_size: images or captions embedded at once.
        device: where the model runs.
    """

    def __init__(
        self,
        gallery: RetrievalGallery,
        collate: RetrievalCollate,
        model: VLModel,
        heads: nn.ModuleDict,
        scorer: PairScorer,
        mode: EvaluationMode,
        shortlist: int,
        all_gather: AllGather,
        rank: int,
        world_size: int,
        batch_size: int,
        device: torch.device,
    ) -> None:
        self.gallery, self.collate, self.model, self.heads, self.scorer = gallery, collate, model, heads, scorer
        self.mode, self.shortlist, self.all_gather = mode, shortlist, all_gather
        self.rank, self.world_size, self.batch_size, self.device = rank, world_size, batch_size, device
        self.captions = move_data_to_device(collate.captions([caption.words for caption in gallery.captions]), device)
        self.caption_image = torch.tensor([caption.image for caption in gallery.captions], device=device)
        self.image_fold = torch.tensor(gallery.image_folds, device=device)
        self.caption_fold = self.image_fold[self.caption_image]
        self._images: list[Tensor] = []
        self._embeddings: list[Tensor] = []
        self._score_rows: list[Tensor] = []
        self.pairs_scored = 0  # by the cross-encoder, once `finish` has run

    def step(self, batch: RetrievalBatch) -> None:
        """Embeds or scores a batch of gallery images."""
        self._images.append(batch.image)
        if self.mode != "exact":
            self._embeddings.append(self.model.encode_image(batch.images.regions, self.heads["image_projection"]))
            return
        rows = torch.full((batch.size, self.caption_image.shape[0]), float("-inf"), device=self.device)
        for row, image in enumerate(batch.image.tolist()):
            captions = (self.caption_fold == self.image_fold[image]).nonzero().squeeze(1)
            image_rows = torch.full_like(captions, row)
            rows[row, captions] = self.scorer(self.captions, batch.images, captions, image_rows)
        self._score_rows.append(rows)

    def _gather(self, tensor: Tensor, pad: float = 0.0) -> Tensor:
        return gather_padded(tensor, self.all_gather, pad)

    def _numbers(self) -> Tensor:
        """Long[N] the gallery numbers of the images every process's loop reached, in the order of their rows."""
        local = torch.cat(self._images) if self._images else torch.zeros(0, dtype=torch.long)
        return self._gather(local.to(self.device)).long()

    def _seen(self) -> Tensor:
        """Bool[I] the images some process's loop reached."""
        seen = torch.zeros(len(self.gallery), dtype=torch.bool, device=self.device)
        seen[self._numbers()] = True
        return seen

    def _by_image(self, values: list[Tensor], width: int, fill: float) -> Tensor:
        """[I, width] the rows each process kept per image, gathered into gallery order (`fill` for unseen)."""
        numbers = self._numbers()
        local = torch.cat(values) if values else torch.zeros(0, width, device=self.device)
        gathered = self._gather(local.float())
        table = torch.full((len(self.gallery), width), fill, device=self.device)
        table[numbers] = gathered
        return table

    @torch.no_grad()
    def _caption_embeddings(self, captions: Tensor) -> Tensor:
        """[T, E] the embeddings of the captions at `captions` [T] (each process embeds every world_size-th)."""
        mine = captions[self.rank :: self.world_size]
        parts = [
            self.model.encode_text(
                self.captions.rows(mine[start : start + self.batch_size]).text(), self.heads["text_projection"]
            )
            for start in range(0, mine.shape[0], self.batch_size)
        ]
        width = self.heads["text_projection"].embed_dim
        local = torch.cat(parts) if parts else torch.zeros(0, width, device=self.device)
        gathered, order = self._gather(local.float()), self._gather(mine)
        table = torch.zeros(len(self.gallery.captions), width, device=self.device)
        table[order] = gathered
        return table[captions]

    @torch.no_grad()
    def _shortlist_scores(self, shortlisted: Tensor) -> Tensor:
        """[I, T] the cross-encoder's scores of the `shortlisted` [I, T] pairs (-inf elsewhere); each process scores the
        pairs of every world_size-th image, read again from the gallery."""
        images = shortlisted.any(dim=1).nonzero().squeeze(1)[self.rank :: self.world_size]
        triples = []
        for start in range(0, images.shape[0], self.batch_size):
            chunk = images[start : start + self.batch_size]
            side = move_data_to_device(self.collate.images([self.gallery[i] for i in chunk.tolist()]), self.device)
            rows, captions = shortlisted[chunk].nonzero(as_tuple=True)
            scores = self.scorer(self.captions, side, captions, rows)
            triples.append(torch.stack([chunk[rows].float(), captions.float(), scores], dim=1))
        local = torch.cat(triples) if triples else torch.zeros(0, 3, device=self.device)
        gathered = self._gather(local)
        table = torch.full(shortlisted.shape, float("-inf"), device=self.device)
        table[gathered[:, 0].long(), gathered[:, 1].long()] = gathered[:, 2]
        return table

    def _folds(self, seen: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Each fold's seen images and their captions, as gallery and caption indices."""
        seen_captions = seen[self.caption_image]
        return [
            (
                (seen & (self.image_fold == fold)).nonzero().squeeze(1),
                (seen_captions & (self.caption_fold == fold)).nonzero().squeeze(1),
            )
            for fold in self.image_fold[seen].unique().tolist()
        ]

    def _similarity(self, seen: Tensor) -> Tensor:
        """[I, T] the cosine similarity of every image's and caption's embeddings (zero rows for unseen images)."""
        embed_dim = self.heads["image_projection"].embed_dim
        image_embeddings = self._by_image(self._embeddings, embed_dim, 0.0)
        captions = seen[self.caption_image].nonzero().squeeze(1)
        text_embeddings = torch.zeros(self.caption_image.shape[0], embed_dim, device=self.device)
        text_embeddings[captions] = self._caption_embeddings(captions)
        return image_embeddings @ text_embeddings.t()

    def finish(self, recall: RetrievalRecall) -> Rankings:
        """Ranks every fold (on every process) and counts recall with `recall` (reset before and after)."""
        seen = self._seen()
        folds = self._folds(seen)
        similarity = None if self.mode == "exact" else self._similarity(seen)
        scores = None
        if self.mode == "exact":
            scores = self._by_image(self._score_rows, self.caption_image.shape[0], float("-inf"))
            self.pairs_scored = sum(int(images.shape[0]) * int(captions.shape[0]) for images, captions in folds)
        elif self.mode == "fast":
            assert similarity is not None
            shortlisted = torch.zeros_like(similarity, dtype=torch.bool)
            for images, captions in folds:
                pairs = shortlisted_pairs(*shortlists(similarity[images][:, captions], self.shortlist))
                shortlisted[images[:, None], captions[None, :]] = pairs
            scores = self._shortlist_scores(shortlisted)
            self.pairs_scored = int(shortlisted.sum())
        image_to_text: dict[int, list[int]] = {}
        text_to_image: dict[int, list[int]] = {}
        results = []
        mine = slice(self.rank, None, self.world_size)
        recall.reset()
        for images, captions in folds:
            by_image, by_text = rank_fold(
                self.mode,
                None if similarity is None else similarity[images][:, captions],
                None if scores is None else scores[images][:, captions],
                self.shortlist,
            )
            by_image, by_text = captions[by_image], images[by_text]
            image_to_text |= dict(zip(images.tolist(), by_image.tolist(), strict=True))
            text_to_image |= dict(zip(captions.tolist(), by_text.tolist(), strict=True))
            recall.update("image_to_text", (self.caption_image[by_image] == images[:, None])[mine], images[mine])
            recall.update("text_to_image", (by_text == self.caption_image[captions][:, None])[mine], captions[mine])
            results.append(recall.compute())
            recall.reset()
        return Rankings(image_to_text, text_to_image, average(results))
