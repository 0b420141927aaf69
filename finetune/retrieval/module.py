"""`RetrievalModule`: image-text retrieval with `VLModel`: a cross-encoder with a binary matching head on
`[CLS] caption [SEP] tags [SEP] regions`, and InfoNCE embeddings trained beside it for the fast and embedding modes.

```yaml
model:
  class_path: finetune.retrieval.RetrievalModule
  init_args:
    config: {hidden_size: 768, ...}        # vlp.model.VLConfig; the checkpoint's architecture
    init_from: runs/pretrain/oscar/pretrained
    negatives: hard                        # ALBEF's mined negatives; "random": Oscar's
    evaluation: fast                       # exact | fast | embedding
    shortlist: 40
    optimizer: {lr: 2.0e-5, weight_decay: 0.05}
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from finetune.retrieval.batch import CaptionTokens, ImageSide, RetrievalBatch
from finetune.retrieval.evaluate import MODES, EvaluationMode, PairScorer
from finetune.retrieval.gallery import GalleryEvaluation, Rankings
from finetune.retrieval.rankings import rankings_json
from vlp.convert.base import VLBundle
from vlp.convert.folder import write_folder
from vlp.metrics.retrieval import RetrievalRecall
from vlp.model import VLConfig, VLModel
from vlp.model.heads import ClassificationHead, EmbeddingProjection
from vlp.model.inputs import RegionInputs
from vlp.objectives.draws import softmax_draw, uniform
from vlp.objectives.infonce import LogitScale, info_nce_loss
from vlp.objectives.output import classification_output
from vlp.train.checks import check_data_fits_model
from vlp.train.gather import gather_padded
from vlp.train.hparams import save_plain_hyperparameters
from vlp.train.init import InitFormat, load_initial_weights
from vlp.train.optim import OptimizerSettings, lightning_optimizers

Negatives = Literal["random", "hard"]
RESULTS_NAME = "rankings.json"


@dataclass
class WorldBatch:
    """The global batch (every process's captions and images) that negatives are drawn from.

    Attributes:
        captions: [N] captions; images: [N] their images; keys: Long[N] the images' numbers.
        texts, images_embedded: [N, E] the embeddings (hard negatives), detached.
        offset: the global row of this process's first example.
    """

    captions: CaptionTokens
    images: ImageSide
    keys: Tensor
    texts: Tensor | None
    images_embedded: Tensor | None
    offset: int


class RetrievalModule(LightningModule):
    """Finetunes a `VLModel` for image-text retrieval; validation and test rank their gallery and log Recall@1/5/10
    both ways and RSUM (`val/image_to_text/R@1`, ..., `val/rsum`); `predict` writes `rankings.json`.

    Each training caption gives a positive pair with its image and negatives from the global batch (every process's
    examples): with `negatives: random` one, its caption or its image swapped for another at 50/50 (Oscar); with
    `hard`, two (ALBEF): its caption with an image and its image with a caption, each drawn in proportion to the
    softmax of the InfoNCE similarity, never of the same image. InfoNCE trains the embeddings beside the matching loss.

    Args:
        config: the model's architecture; with `init_from` it must be the checkpoint's.
        negatives: "random" (Oscar) or "hard" (ALBEF).
        itm_weight: the matching loss's weight.
        infonce_weight: InfoNCE's weight; 0 trains the cross-encoder alone (the fast and embedding modes then need
            embeddings trained before, in `init_from`).
        embed_dim: the embeddings' width (a pretrained projection's, when it is loaded).
        evaluation: "exact" (the cross-encoder scores every pair), "fast" (embeddings shortlist, the cross-encoder
            re-ranks) or "embedding" (embeddings alone).
        shortlist: fast: k, the candidates each query's shortlist holds (at least 10). 40 scores 21x fewer pairs than
            exact at COCO's 1K test and 104x fewer at 5K (`benchmarks/retrieval_eval_speed.py`).
        score_batch_size: the most pairs per cross-encoder pass in evaluation.
        optimizer: AdamW and its warmup and linear decay, counted in optimizer steps.
        lr_multipliers: parameter name prefix -> factor on the learning rate (UNITER's `lr_mul` for fresh heads, e.g.
            `{"heads.": 10}`).
        seed: the seed of the negatives' draws (each process adds its rank).
        init_from: a checkpoint to start from (see `init_format`); None starts from random weights.
        init_format: `vlp`, `oscar`, `uniter` or `hf-bert`.
        results: where `predict` writes the rankings; default `rankings.json` in the trainer's `default_root_dir`.
        export_dir: where fitting ends by writing the model and its heads as a vlp folder (what `vlp zero-shot`
            reads); default `finetuned` in the trainer's `default_root_dir`.
    """

    def __init__(
        self,
        config: VLConfig,
        negatives: Negatives = "hard",
        itm_weight: float = 1.0,
        infonce_weight: float = 1.0,
        embed_dim: int = 256,
        evaluation: EvaluationMode = "fast",
        shortlist: int = 40,
        score_batch_size: int = 256,
        optimizer: OptimizerSettings | None = None,
        lr_multipliers: dict[str, float] | None = None,
        seed: int = 0,
        init_from: str | None = None,
        init_format: InitFormat = "vlp",
        results: str | None = None,
        export_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.optimizer_settings = optimizer or OptimizerSettings()
        save_plain_hyperparameters(self, config=config, optimizer=self.optimizer_settings)
        if negatives not in ("random", "hard"):
            raise ValueError(f"negatives must be 'random' or 'hard', got {negatives!r}")
        if evaluation not in MODES:
            raise ValueError(f"evaluation must be one of {MODES}, got {evaluation!r}")
        if shortlist < 10:
            raise ValueError(f"shortlist must be at least 10 (Recall@10 ranks ten candidates), got {shortlist}")
        self.negatives, self.itm_weight, self.infonce_weight = negatives, itm_weight, infonce_weight
        self.evaluation, self.shortlist, self.score_batch_size = evaluation, shortlist, score_batch_size
        self.seed, self.results_file, self.export_dir = seed, results, export_dir
        self.lr_multipliers = dict(lr_multipliers or {})
        self.model = VLModel(config)
        hidden, init = config.hidden_size, config.initializer_range
        self.heads = torch.nn.ModuleDict(
            {
                "itm": ClassificationHead(hidden, 2, initializer_range=init),
                "text_projection": EmbeddingProjection(hidden, embed_dim, init),
                "image_projection": EmbeddingProjection(hidden, embed_dim, init),
            }
        )
        self.logit_scale = LogitScale()
        if init_from is not None:
            load_initial_weights(self.model, self.heads, init_from, init_format)
        self.recall = RetrievalRecall()
        self.scorer: PairScorer | None = None
        self._generator: torch.Generator | None = None
        self._gallery: GalleryEvaluation | None = None

    def setup(self, stage: str) -> None:
        """Takes the tokenizer and the pair layout from the data module and checks the data against the model."""
        datamodule = getattr(self.trainer, "datamodule", None)
        check_data_fits_model(self.model.config, datamodule)
        tokenizer = getattr(datamodule, "tokenizer", None)
        if tokenizer is None:
            raise ValueError("RetrievalModule pairs captions and images with a RetrievalDataModule's tokenizer")
        self.scorer = PairScorer(
            self.model,
            self.heads["itm"],
            datamodule.max_tokens,
            tokenizer.sep_id,
            datamodule.tags,
            self.score_batch_size,
        )

    def on_fit_start(self) -> None:
        self._generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.global_rank)

    def _world(self, batch: RetrievalBatch, texts: Tensor | None, images: Tensor | None) -> WorldBatch:
        """Every process's batch (this one's alone on one process)."""
        if self.trainer.world_size == 1:
            return WorldBatch(batch.captions, batch.images, batch.image, texts, images, 0)

        def gather(tensor: Tensor, pad: float | bool = 0) -> Tensor:
            return gather_padded(tensor.detach(), self.all_gather, pad)

        counts = gather(torch.tensor([batch.size], device=self.device))
        regions = batch.images.regions
        assert regions.mask is not None
        return WorldBatch(
            CaptionTokens(gather(batch.captions.input_ids), gather(batch.captions.mask, False)),
            ImageSide(
                gather(batch.images.tag_ids),
                gather(batch.images.tag_mask, False),
                RegionInputs(gather(regions.features), gather(regions.geometry), gather(regions.mask, False)),
            ),
            gather(batch.image, -1),
            None if texts is None else gather(texts),
            None if images is None else gather(images),
            int(counts[: self.global_rank].sum()),
        )

    def training_pairs(self, world: WorldBatch, count: int) -> tuple[Tensor, Tensor, Tensor]:
        """The pairs of this process's `count` examples: caption rows and image rows into the world batch, and Long
        labels (1 matched, 0 not); positives first."""
        assert self._generator is not None
        own = torch.arange(count, device=self.device) + world.offset
        same = world.keys[own][:, None] == world.keys[None, :]
        if self.negatives == "random":
            swap_caption = uniform((count,), self._generator, self.device) < 0.5
            other, valid = softmax_draw(None, same, self._generator)
            caption_rows = torch.where(swap_caption, other, own)[valid]
            image_rows = torch.where(swap_caption, own, other)[valid]
        else:
            assert world.texts is not None and world.images_embedded is not None
            scale = self.logit_scale().detach().exp()
            hard_image, image_found = softmax_draw(
                scale * world.texts[own] @ world.images_embedded.t(), same, self._generator
            )
            hard_text, text_found = softmax_draw(
                scale * world.images_embedded[own] @ world.texts.t(), same, self._generator
            )
            caption_rows = torch.cat([own[image_found], hard_text[text_found]])
            image_rows = torch.cat([hard_image[image_found], own[text_found]])
        labels = torch.cat([torch.ones_like(own), torch.zeros_like(caption_rows)])
        return torch.cat([own, caption_rows]), torch.cat([own, image_rows]), labels

    def training_step(self, batch: RetrievalBatch, batch_idx: int) -> Tensor:
        assert self.scorer is not None
        texts = images = None
        loss = torch.zeros((), device=self.device)
        if self.infonce_weight > 0 or self.negatives == "hard":
            with torch.set_grad_enabled(torch.is_grad_enabled() and self.infonce_weight > 0):
                texts = self.model.encode_text(batch.captions.text(), self.heads["text_projection"])
                images = self.model.encode_image(batch.images.regions, self.heads["image_projection"])
        if self.infonce_weight > 0:
            assert texts is not None and images is not None
            contrastive = info_nce_loss(texts, images, self.logit_scale(), keys=batch.image)
            loss = loss + self.infonce_weight * contrastive.loss
            self.log("train/infonce", contrastive.loss, batch_size=batch.size, on_step=False, on_epoch=True)
            self.log("train/infonce_acc", contrastive.accuracy, batch_size=batch.size, on_step=False, on_epoch=True)
        world = self._world(batch, texts, images)
        caption_rows, image_rows, labels = self.training_pairs(world, batch.size)
        logits = self.scorer.logits(world.captions.rows(caption_rows), world.images.rows(image_rows))
        matching = classification_output(logits, labels)
        loss = loss + self.itm_weight * matching.loss
        self.log("train/itm", matching.loss, batch_size=batch.size, on_step=False, on_epoch=True)
        self.log("train/itm_acc", matching.accuracy, batch_size=batch.size, on_step=False, on_epoch=True)
        self.log("train/loss", loss, batch_size=batch.size, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def _start(self, split: str) -> None:
        assert self.scorer is not None
        datamodule = self.trainer.datamodule  # type: ignore[attr-defined]
        self._gallery = GalleryEvaluation(
            datamodule.gallery(split),
            datamodule.collate(),
            self.model,
            self.heads,
            self.scorer,
            self.evaluation,
            self.shortlist,
            self.all_gather,
            self.global_rank,
            self.trainer.world_size,
            datamodule.loader.evaluation_batch_size,
            self.device,
        )

    def _step(self, batch: RetrievalBatch) -> None:
        assert self._gallery is not None
        self._gallery.step(batch)

    def _finish(self, stage: str) -> Rankings:
        assert self._gallery is not None
        rankings = self._gallery.finish(self.recall)
        for name, value in rankings.recall.items():
            self.log(f"{stage}/{name}", value, sync_dist=False, rank_zero_only=False)
        return rankings

    def on_validation_epoch_start(self) -> None:
        self._start("val")

    @torch.no_grad()
    def validation_step(self, batch: RetrievalBatch, batch_idx: int) -> None:
        self._step(batch)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._finish("val")
        self._gallery = None

    def on_test_epoch_start(self) -> None:
        self._start("test")

    @torch.no_grad()
    def test_step(self, batch: RetrievalBatch, batch_idx: int) -> None:
        self._step(batch)

    def on_test_epoch_end(self) -> None:
        self._finish("test")
        self._gallery = None

    def on_predict_epoch_start(self) -> None:
        self._start("predict")

    @torch.no_grad()
    def predict_step(self, batch: RetrievalBatch, batch_idx: int) -> torch.Tensor:
        """The batch's gallery image numbers (the rankings are written when the loop ends)."""
        self._step(batch)
        return batch.image

    @property
    def results_path(self) -> Path:
        """Where `predict` writes the rankings."""
        return Path(self.results_file) if self.results_file else Path(self.trainer.default_root_dir) / RESULTS_NAME

    def on_predict_epoch_end(self) -> None:
        """Writes `rankings.json` from process 0 (recall is left to `vlp eval retrieval`)."""
        assert self._gallery is not None
        gallery = self._gallery.gallery
        rankings = self._gallery.finish(self.recall)
        self._gallery = None
        if self.trainer.is_global_zero:
            self.results_path.parent.mkdir(parents=True, exist_ok=True)
            self.results_path.write_text(json.dumps(rankings_json(gallery, rankings)), encoding="utf-8")
            rank_zero_info(f"rankings of {len(gallery)} images written to {self.results_path}")

    def on_fit_end(self) -> None:
        """Writes the model and its heads as a vlp folder (process 0 only)."""
        if not self.trainer.is_global_zero:
            return
        folder = Path(self.export_dir) if self.export_dir else Path(self.trainer.default_root_dir) / "finetuned"
        tokenizer = getattr(self.trainer.datamodule, "tokenizer", None)  # type: ignore[attr-defined]
        write_folder(
            VLBundle(self.model, dict(self.heads.items())), folder, tokenizer_from=tokenizer and tokenizer.vocab_path
        )
        rank_zero_info(f"finetuned retrieval model written to {folder}")

    def configure_optimizers(self) -> dict[str, object]:
        return lightning_optimizers(self, self.optimizer_settings, self.lr_multipliers)
