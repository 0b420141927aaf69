"""`PretrainModule`: vision-language pretraining of `VLModel` with weighted or sampled objectives.

```yaml
model:
  class_path: vlp.pretrain.PretrainModule
  init_args:
    config: {hidden_size: 768, region_feature_dim: 2048, ...}   # vlp.model.VLConfig
    objectives: {mlm: 1.0, contrastive: 1.0}
    mixing: all
    init_from: bert-base-uncased        # optional: vlp folder, HF BERT or Oscar checkpoint
```

ITM hard negatives (ALBEF): with `itm_hard_negatives: true` and both `itm` and `infonce` among the objectives, the
image of each text that the collate swapped is redrawn in proportion to the softmax of the step's InfoNCE
text-to-image logits. From the command line, with an objective mix that has both:
`vlp fit --config ... --model.init_args.objectives='{mlm: 1.0, itm: 1.0, infonce: 1.0}'
--model.init_args.itm_hard_negatives=true`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_info

from vlp.convert.base import VLBundle
from vlp.convert.folder import write_folder
from vlp.data.batch import PretrainBatch
from vlp.model import VLConfig, VLModel
from vlp.objectives.base import HeadSettings
from vlp.objectives.infonce import LogitScale
from vlp.objectives.output import ObjectiveOutput
from vlp.pretrain.compute import compute_objectives
from vlp.pretrain.heads import build_heads
from vlp.pretrain.mixing import Mixing, ObjectiveWeights, sample_objective
from vlp.train.checks import check_data_fits_model
from vlp.train.hparams import save_plain_hyperparameters
from vlp.train.init import InitFormat, load_initial_weights
from vlp.train.optim import OptimizerSettings, lightning_optimizers

HARD_NEGATIVE_STREAM = 2**62
"""Added to the per-batch seed of the hard-negative draws: past every objective-sampling seed (below 2**62 plus the
batch count), so that the two draws of a batch are independent."""


class PretrainModule(LightningModule):
    """Pretrains a `VLModel` and its heads; exports them as a vlp folder when fitting ends.

    Args:
        config: the model's architecture.
        objectives: the weight of each objective (0 leaves it out).
        mixing: `all` objectives on every batch with their weights (Oscar), or one objective per batch sampled in
            proportion to its weight (UNITER). Sampling draws from the global seed and the batch count, so every
            process and a resumed run draw the same objective for the same batch. Under DDP, `sample` needs
            `strategy: ddp_find_unused_parameters_true`, since the other objectives' heads sit out each step.
        contrastive_classes: 2 (Oscar) or 3 (Oscar+); must match the data's `corruption.contrastive_classes`.
        num_region_labels: classes of the region classifier (`mrc`): the data's region label vocabulary size.
        embed_dim: width of the InfoNCE embeddings.
        optimizer: AdamW and its warmup and linear decay, counted in optimizer steps.
        init_from: a checkpoint to start from (see `init_format`); None starts from random weights.
        init_format: `vlp` folder, `hf-bert` folder, official `oscar` checkpoint folder, or `uniter` checkpoint
            (see `vlp.train.init.read_checkpoint`).
        export_dir: where `on_fit_end` writes the pretrained vlp folder; default `<default_root_dir>/pretrained`.
        tokenizer_from: a folder or `vocab.txt` whose tokenizer files go into the export.
        itm_hard_negatives: in training, redraw the image of each text that the collate paired with another image in
            proportion to the softmax of the in-batch InfoNCE text-to-image logits of the same step (detached), over
            the rows holding another image (ALBEF's hard negatives); a text with no other image in the batch stays
            matched. Needs the `itm` and `infonce` objectives (in `sample` mixing, ITM steps compute the InfoNCE
            embeddings without gradient) and texts that do not depend on their image: captions without tags
            (`data.tags: false`) or question corpora, whose text b is the answer. ALBEF gathers the similarities of
            all GPUs; here each process draws within its own batch, from a generator seeded by the global seed and
            the batch count (the same on every process and on resuming). Validation keeps the collate's fixed
            uniform negatives, so that `val/itm_loss` compares across epochs and runs.
    """

    def __init__(
        self,
        config: VLConfig,
        objectives: ObjectiveWeights | None = None,
        mixing: Mixing = "all",
        contrastive_classes: int = 2,
        num_region_labels: int = 0,
        embed_dim: int = 256,
        optimizer: OptimizerSettings | None = None,
        init_from: str | None = None,
        init_format: InitFormat = "hf-bert",
        export_dir: str | None = None,
        tokenizer_from: str | None = None,
        itm_hard_negatives: bool = False,
    ) -> None:
        super().__init__()
        self.objectives = objectives or ObjectiveWeights()
        self.optimizer_settings = optimizer or OptimizerSettings()
        save_plain_hyperparameters(self, config=config, objectives=self.objectives, optimizer=self.optimizer_settings)
        if mixing not in ("all", "sample"):
            raise ValueError(f"mixing must be 'all' or 'sample', got {mixing!r}")
        self.mixing = mixing
        missing = [name for name in ("itm", "infonce") if name not in self.objectives.active]
        if itm_hard_negatives and missing:
            raise ValueError(
                f"itm_hard_negatives draws ITM negatives from the InfoNCE similarity: give the {' and '.join(missing)} "
                "objective(s) a weight"
            )
        self.itm_hard_negatives = itm_hard_negatives
        self.export_dir, self.tokenizer_from = export_dir, tokenizer_from
        self.model = VLModel(config)
        settings = HeadSettings(contrastive_classes, num_region_labels, embed_dim)
        self.heads = build_heads(config, self.objectives.active, settings)
        self.logit_scale = LogitScale() if "infonce" in self.objectives.active else None
        if init_from is not None:
            load_initial_weights(self.model, self.heads, init_from, init_format)
        # Seeds the per-batch draw of `sample` mixing; `seed_everything` makes it the same on every process.
        self.sampling_seed = torch.initial_seed() % 2**62

    def setup(self, stage: str) -> None:
        """Checks the data's vocabularies and region features against the model's, when the data module tells them."""
        datamodule = getattr(self.trainer, "datamodule", None)
        check_data_fits_model(self.model.config, datamodule)
        names = getattr(datamodule, "region_label_names", None) if stage == "fit" else None
        if "mrc" in self.heads and names is not None and len(names) > self.heads["mrc"].num_classes:
            raise ValueError(
                f"the data has {len(names)} region labels but num_region_labels is {self.heads['mrc'].num_classes}"
            )

    def batch_generator(self, stream: int = 0) -> torch.Generator:
        """A generator seeded from the global seed, the training batch count and `stream`: the same on every process
        and on resuming."""
        return torch.Generator().manual_seed(self.sampling_seed + self.trainer.fit_loop.total_batch_idx + stream)

    def objectives_for_step(self) -> list[str]:
        """The objectives of the current training batch."""
        if self.mixing == "all":
            return list(self.objectives.active)
        return [sample_objective(self.objectives, self.batch_generator())]

    def _losses(
        self,
        batch: PretrainBatch,
        objectives: list[str],
        shared: bool,
        hard_negatives: torch.Generator | None = None,
    ) -> dict[str, ObjectiveOutput]:
        return compute_objectives(
            self.model,
            self.heads,
            batch,
            objectives,
            shared,
            None if self.logit_scale is None else self.logit_scale(),
            hard_negatives,
        )

    def _total(self, outputs: dict[str, ObjectiveOutput], weighted: bool) -> torch.Tensor:
        """The step's loss: the weighted sum (or, sampled, the one loss), each mean loss rescaled by this process's
        share of the objective's count over all processes, so that DDP's gradient average equals the gradient of the
        mean over the global batch (masked tokens and regions differ in number between processes)."""
        counts = torch.tensor([float(output.count) for output in outputs.values()], device=self.device)
        if self.trainer is not None and self.trainer.world_size > 1:
            all_counts = self.all_gather(counts)
            shares = counts * self.trainer.world_size / all_counts.sum(dim=0).clamp(min=1.0)
        else:
            shares = torch.ones_like(counts)
        total = torch.zeros((), device=self.device)
        for share, (name, output) in zip(shares, outputs.items(), strict=True):
            weight = self.objectives.active[name] if weighted else 1.0
            total = total + weight * share * output.loss
        return total

    def _log(self, stage: str, outputs: dict[str, ObjectiveOutput], total: torch.Tensor, batch_size: int) -> None:
        on_step = stage == "train"
        sync = stage != "train"
        self.log(f"{stage}/loss", total, batch_size=batch_size, on_step=on_step, on_epoch=True, sync_dist=sync)
        for name, output in outputs.items():
            if output.count == 0:
                continue
            options = {"batch_size": output.count, "on_step": on_step, "on_epoch": True, "sync_dist": sync}
            self.log(f"{stage}/{name}_loss", output.loss.detach(), prog_bar=on_step, **options)
            if output.accuracy is not None:
                self.log(f"{stage}/{name}_acc", output.accuracy, **options)

    def training_step(self, batch: PretrainBatch, batch_idx: int) -> torch.Tensor:
        objectives = self.objectives_for_step()
        hard_negatives = self.batch_generator(HARD_NEGATIVE_STREAM) if self.itm_hard_negatives else None
        outputs = self._losses(batch, objectives, shared=self.mixing == "all", hard_negatives=hard_negatives)
        total = self._total(outputs, weighted=self.mixing == "all")
        self._log("train", outputs, total, batch.size)
        return total

    def validation_step(self, batch: PretrainBatch, batch_idx: int) -> None:
        # Every objective on every validation batch, each on its own corruption in `sample` mode.
        outputs = self._losses(batch, list(self.objectives.active), shared=self.mixing == "all")
        total = sum((self.objectives.active[name] * output.loss for name, output in outputs.items()), torch.zeros(()))
        self._log("val", outputs, total, batch.size)

    def configure_optimizers(self) -> dict[str, object]:
        return lightning_optimizers(self, self.optimizer_settings)

    def on_fit_end(self) -> None:
        """Writes the model and heads as a vlp folder (process 0 only)."""
        if not self.trainer.is_global_zero:
            return
        folder = Path(self.export_dir) if self.export_dir else Path(self.trainer.default_root_dir) / "pretrained"
        write_folder(VLBundle(self.model, dict(self.heads.items())), folder, tokenizer_from=self.tokenizer_from)
        rank_zero_info(f"pretrained model written to {folder}")
