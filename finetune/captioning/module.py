"""`CaptioningModule`: image captioning with `VLModel` in Oscar's layout, trained on masked caption tokens (Oscar) or
next-token prediction, decoded by beam search through the key/value cache.

```yaml
model:
  class_path: finetune.captioning.CaptioningModule
  init_args:
    config: {hidden_size: 768, ...}          # vlp.model.VLConfig; the checkpoint's architecture
    init_from: runs/pretrain/oscar/pretrained
    objective: masked                        # the data's objective
    optimizer: {lr: 3.0e-5, weight_decay: 0.05, warmup_ratio: 0.0}
    decoding: {beams: 5, max_length: 20}
```
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_info
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.rouge.rouge import Rouge

from finetune.captioning.batch import CaptionBatch
from finetune.captioning.collate import CaptionObjective
from finetune.captioning.scst import Baseline, CiderReward, scst_loss
from vlp.convert.base import VLBundle
from vlp.convert.folder import write_folder
from vlp.data.tokenizer import WordPieceTokenizer
from vlp.generate import BeamSettings, beam_search, greedy_search, sample
from vlp.generate.caption import CachedCaptionDecoder, CaptionContext
from vlp.metrics.cider import cider_d
from vlp.model import TiedPredictionHead, VLConfig, VLModel
from vlp.objectives.output import IGNORE_INDEX
from vlp.train.checks import check_data_fits_model
from vlp.train.gather import gather_rows
from vlp.train.hparams import save_plain_hyperparameters
from vlp.train.init import InitFormat, load_initial_weights
from vlp.train.optim import OptimizerSettings, lightning_optimizers
from vlp.world import tokenize_caption

RESULTS_NAME = "caption_results.json"


def drop_worst(losses: torch.Tensor, ratio: float) -> torch.Tensor:
    """The mean of [N] per-target losses without the `ratio` share of the highest (VinVL's drop-worst; at least one
    target is kept)."""
    if ratio <= 0:
        return losses.mean()
    kept = max(1, round(losses.numel() * (1 - ratio)))
    return losses.topk(kept, largest=False).values.mean()


class CaptioningModule(LightningModule):
    """Finetunes a `VLModel` to caption images; validation decodes every image and logs CIDEr-D (`val/cider`),
    BLEU-1..4 (`val/bleu1`..`val/bleu4`) and ROUGE-L (`val/rouge_l`) over vlp's word split, and `predict` writes
    `[{"image_id", "caption"}]`, the COCO evaluation server's format.

    The output head is the pretrained masked-token head (`mlm`, tied to the word embeddings), loaded from `init_from`
    with the rest. With the `masked` objective, decoding reads each next token at a `[MASK]` after the latest one, as
    Oscar does; with `next_token`, from the latest token's state.

    Args:
        config: the model's architecture; with `init_from` it must be the checkpoint's.
        objective: "masked" or "next_token"; must be the data module's.
        label_smoothing: label smoothing of the cross-entropy (VinVL: 0.1).
        drop_worst_ratio: VinVL's drop-worst: after `drop_worst_after` optimizer steps, the share of each batch's
            targets with the highest loss left out of it (noisy captions; VinVL: 0.2 after 20,000 steps). 0: off.
        drop_worst_after: optimizer steps before drop-worst starts.
        decoding: beam width, lengths, length penalty and n-gram blocking of validation and prediction.
        optimizer: AdamW and its warmup and linear decay, counted in optimizer steps.
        constraints: constrained beam search (Oscar's `--use_cbs`, for NoCaps): each caption must contain the words
            of the image's first this many distinct tags (detector labels, in region order); 0 decodes freely.
        min_constraints: how many of them a caption must contain (Oscar's `min_constraints_to_satisfy`); all when
            None.
        scst: train by self-critical sequence training (`finetune.captioning.scst`) instead of cross-entropy: the
            second stage, started from the cross-entropy model (its exported folder as `init_from`).
        scst_samples: captions sampled per image and step (Oscar, VinVL: 5).
        scst_baseline: "mean" (leave-one-out mean of the other samples' rewards) or "greedy" (the greedy caption's).
        init_from: a checkpoint to start from (see `init_format`); None starts from random weights.
        init_format: `vlp`, `oscar`, `uniter` or `hf-bert`.
        results: the results json `predict` writes; default `caption_results.json` in the trainer's `default_root_dir`.
        export_dir: where fitting ends by writing the model and its head as a vlp folder (what the SCST stage starts
            from); default `finetuned` in the trainer's `default_root_dir`.
    """

    def __init__(
        self,
        config: VLConfig,
        objective: CaptionObjective = "masked",
        label_smoothing: float = 0.0,
        drop_worst_ratio: float = 0.0,
        drop_worst_after: int = 0,
        decoding: BeamSettings | None = None,
        optimizer: OptimizerSettings | None = None,
        constraints: int = 0,
        min_constraints: int | None = None,
        scst: bool = False,
        scst_samples: int = 5,
        scst_baseline: Baseline = "mean",
        init_from: str | None = None,
        init_format: InitFormat = "vlp",
        results: str | None = None,
        export_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.optimizer_settings, self.decoding = optimizer or OptimizerSettings(), decoding or BeamSettings()
        save_plain_hyperparameters(self, config=config, optimizer=self.optimizer_settings, decoding=self.decoding)
        if objective not in ("masked", "next_token"):
            raise ValueError(f"objective must be 'masked' or 'next_token', got {objective!r}")
        if not 0.0 <= drop_worst_ratio < 1.0:
            raise ValueError(f"drop_worst_ratio must lie in [0, 1), got {drop_worst_ratio}")
        self.objective, self.label_smoothing, self.results_file = objective, label_smoothing, results
        self.drop_worst_ratio, self.drop_worst_after = drop_worst_ratio, drop_worst_after
        if scst_baseline not in ("mean", "greedy"):
            raise ValueError(f"scst_baseline must be 'mean' or 'greedy', got {scst_baseline!r}")
        self.scst, self.scst_samples, self.scst_baseline = scst, scst_samples, scst_baseline
        self.export_dir = export_dir
        self.constraints, self.min_constraints = constraints, min_constraints
        self.reward: CiderReward | None = None
        self.model = VLModel(config)
        head = TiedPredictionHead(
            config.hidden_size, config.vocab_size, config.hidden_act, config.layer_norm_eps, config.initializer_range
        )
        self.heads = torch.nn.ModuleDict({"mlm": head})
        if init_from is not None:
            load_initial_weights(self.model, self.heads, init_from, init_format)
        self.tokenizer: WordPieceTokenizer | None = None
        self._decoded: list[tuple[int, list[int]]] = []

    def setup(self, stage: str) -> None:
        """Takes the tokenizer from the data module and checks the data against the model."""
        datamodule = getattr(self.trainer, "datamodule", None)
        check_data_fits_model(self.model.config, datamodule)
        self.tokenizer = getattr(datamodule, "tokenizer", None)
        if self.tokenizer is None:
            raise ValueError("CaptioningModule decodes with the data module's tokenizer: use a CaptionDataModule")
        data_objective = getattr(datamodule, "objective", self.objective)
        if data_objective != self.objective:
            raise ValueError(
                f"the model decodes for the {self.objective!r} objective but the data trains {data_objective!r}"
            )

    def on_fit_start(self) -> None:
        """SCST caches the document frequencies of the training references once."""
        if self.scst:
            self.reward = CiderReward(self.trainer.datamodule.datasets["train"].image_captions())  # type: ignore[attr-defined]

    def _context(self, batch: CaptionBatch) -> tuple[CaptionContext, int | None]:
        """What decoding a batch reads: its tags and regions, and the `[MASK]` id of the masked objective."""
        assert self.tokenizer is not None
        mask_id = self.tokenizer.mask_id if self.objective == "masked" else None
        return CaptionContext(batch.tags(), batch.regions, batch.caption_length), mask_id

    def _scst_step(self, batch: CaptionBatch) -> torch.Tensor:
        """Samples captions per image, rewards them with CIDEr-D and returns the policy-gradient loss."""
        assert self.tokenizer is not None and self.reward is not None
        (context, mask_id), head, tokenizer = self._context(batch), self.heads["mlm"], self.tokenizer
        samples = self.scst_samples
        decoder = CachedCaptionDecoder(self.model, head, context, mask_id)
        sequences, log_probs = sample(
            decoder, batch.size, tokenizer.cls_id, tokenizer.sep_id, self.decoding.max_length, samples
        )
        images = [image for image in batch.image_ids for _ in range(samples)]
        rewards = self.reward(images, [tokenizer.decode(tokens) for tokens in sequences]).view(batch.size, samples)
        greedy_rewards = None
        if self.scst_baseline == "greedy":
            with torch.no_grad():
                greedy = greedy_search(
                    CachedCaptionDecoder(self.model, head, context, mask_id),
                    batch.size,
                    tokenizer.cls_id,
                    tokenizer.sep_id,
                    self.decoding.max_length,
                )
            greedy_rewards = self.reward(batch.image_ids, [tokenizer.decode(tokens) for tokens in greedy])
        loss = scst_loss(log_probs.view(batch.size, samples), rewards, self.scst_baseline, greedy_rewards)
        self.log("train/loss", loss, batch_size=batch.size, on_step=True, on_epoch=True, prog_bar=True)
        self.log("train/reward", rewards.mean(), batch_size=batch.size, on_step=False, on_epoch=True)
        return loss

    def training_step(self, batch: CaptionBatch, batch_idx: int) -> torch.Tensor:
        if self.scst:
            return self._scst_step(batch)
        output = self.model(batch.text, batch.regions, attention_mask_3d=batch.attention_mask_3d)
        states = output.sequence_output[:, : batch.caption_length]
        selected = batch.labels != IGNORE_INDEX
        logits = self.heads["mlm"](states[selected], self.model.word_embedding_weight)
        labels = batch.labels[selected]
        losses = F.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing, reduction="none")
        loss = drop_worst(losses, self.drop_worst_ratio if self.global_step >= self.drop_worst_after else 0.0)
        accuracy = (logits.argmax(dim=-1) == labels).float().mean()
        self.log("train/loss", loss, batch_size=batch.size, on_step=True, on_epoch=True, prog_bar=True)
        self.log("train/acc", accuracy, batch_size=batch.size, on_step=False, on_epoch=True)
        return loss

    @torch.no_grad()
    def decode(self, batch: CaptionBatch) -> list[list[int]]:
        """[B] the best beam's word pieces for each image of a batch."""
        assert self.tokenizer is not None
        context, mask_id = self._context(batch)
        decoder = CachedCaptionDecoder(self.model, self.heads["mlm"], context, mask_id)
        constraints = [self.tag_constraints(names) for names in batch.tag_names] if self.constraints else None
        beams = beam_search(
            decoder,
            batch.size,
            self.tokenizer.cls_id,
            self.tokenizer.sep_id,
            self.decoding,
            constraints,
            self.min_constraints,
        )
        return [hypotheses[0].tokens if hypotheses else [] for hypotheses in beams]

    def tag_constraints(self, tag_names: list[str]) -> list[list[int]]:
        """The word pieces of an image's first `constraints` distinct tags, one token sequence per tag."""
        assert self.tokenizer is not None
        chosen = list(dict.fromkeys(tag_names))[: self.constraints]
        return [self.tokenizer.pieces(name.split())[0] for name in chosen]

    def _keep(self, batch: CaptionBatch) -> list[list[int]]:
        """Decodes a batch and keeps its captions, by dataset index, for the epoch's end."""
        decoded = self.decode(batch)
        self._decoded += list(zip(batch.index.tolist(), decoded, strict=True))
        return decoded

    def _gathered(self) -> dict[int, str]:
        """Every process's captions by dataset index (padded token rows through `gather_rows`)."""
        assert self.tokenizer is not None
        width = 1 + self.decoding.max_length
        rows = torch.full((len(self._decoded), width), -1, dtype=torch.long, device=self.device)
        for row, (index, tokens) in enumerate(self._decoded):
            rows[row, 0] = index
            rows[row, 1 : 1 + len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        self._decoded = []
        captions: dict[int, str] = {}
        for row in gather_rows(rows, self.all_gather).tolist():
            captions.setdefault(row[0], self.tokenizer.decode([token for token in row[1:] if token >= 0]))
        return captions

    def on_validation_epoch_start(self) -> None:
        self._decoded = []

    def validation_step(self, batch: CaptionBatch, batch_idx: int) -> None:
        self._keep(batch)

    def on_validation_epoch_end(self) -> None:
        dataset = self.trainer.datamodule.datasets["val"]  # type: ignore[attr-defined]
        captions = self._gathered()
        references = list(dataset.image_captions().values())
        candidates = {index: tokenize_caption(text) for index, text in captions.items()}
        tokenized = {index: [tokenize_caption(r) for r in references[index]] for index in captions}
        score, _ = cider_d(candidates, tokenized)
        self.log("val/cider", score)
        # BLEU and ROUGE-L of the caption toolkit, whose scorers are plain Python (METEOR and SPICE need Java: they
        # are left to `vlp eval caption`).
        res = {index: [" ".join(words)] for index, words in candidates.items()}
        gts = {index: [" ".join(words) for words in refs] for index, refs in tokenized.items()}
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        for n, value in enumerate(bleu, start=1):
            self.log(f"val/bleu{n}", float(value))
        self.log("val/rouge_l", float(Rouge().compute_score(gts, res)[0]))

    def on_predict_epoch_start(self) -> None:
        self._decoded = []

    def predict_step(self, batch: CaptionBatch, batch_idx: int) -> list[list[int]]:
        """[B] each image's caption as word pieces (also kept for the results file)."""
        return self._keep(batch)

    @property
    def results_path(self) -> Path:
        """Where `predict` writes the results json."""
        return Path(self.results_file) if self.results_file else Path(self.trainer.default_root_dir) / RESULTS_NAME

    def on_predict_epoch_end(self) -> None:
        """Writes `[{"image_id", "caption"}]` in dataset order from process 0 (numeric ids as integers, as COCO's)."""
        dataset = self.trainer.datamodule.datasets["predict"]  # type: ignore[attr-defined]
        image_ids = list(dataset.image_captions())
        captions = self._gathered()
        if self.trainer.is_global_zero:
            results = [
                {"image_id": int(image_ids[i]) if image_ids[i].isdigit() else image_ids[i], "caption": captions[i]}
                for i in sorted(captions)
            ]
            self.results_path.parent.mkdir(parents=True, exist_ok=True)
            self.results_path.write_text(json.dumps(results), encoding="utf-8")
            rank_zero_info(f"{len(results)} captions written to {self.results_path}")

    def on_fit_end(self) -> None:
        """Writes the model and its head as a vlp folder (process 0 only)."""
        if not self.trainer.is_global_zero:
            return
        folder = Path(self.export_dir) if self.export_dir else Path(self.trainer.default_root_dir) / "finetuned"
        tokenizer_from = None if self.tokenizer is None else self.tokenizer.vocab_path
        write_folder(VLBundle(self.model, dict(self.heads.items())), folder, tokenizer_from=tokenizer_from)
        rank_zero_info(f"finetuned captioning model written to {folder}")

    def configure_optimizers(self) -> dict[str, object]:
        return lightning_optimizers(self, self.optimizer_settings)
