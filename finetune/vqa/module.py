"""`VQAModule`: VQA v2 finetuning of `VLModel`, a classifier over the answer vocabulary on the pooled output.

```yaml
model:
  class_path: finetune.vqa.VQAModule
  init_args:
    config: {hidden_size: 768, hidden_dropout: 0.3, ...}   # vlp.model.VLConfig; the checkpoint's architecture
    init_from: runs/pretrain/oscar/pretrained              # a vlp folder, or an Oscar/VinVL checkpoint folder
    init_format: vlp                                       # vlp | oscar | uniter | hf-bert
    optimizer: {lr: 5.0e-5, weight_decay: 0.05}
    classifier_lr_multiplier: 1.0                          # UNITER trains its fresh VQA head 10x faster
    classifier_bias: zero                                  # or prior: start from the training answers' base rates
```
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from finetune.vqa.answers import AnswerVocabulary
from finetune.vqa.batch import VQABatch
from finetune.vqa.loss import vqa_bce_loss
from finetune.vqa.results import gather_predictions
from vlp.eval.vqa_files import write_results
from vlp.metrics.vqa_metric import VQAAccuracy
from vlp.model import ClassificationHead, MLPClassificationHead, VLConfig, VLModel, in_float32
from vlp.train.checks import check_data_fits_model
from vlp.train.hparams import save_plain_hyperparameters
from vlp.train.init import InitFormat, load_initial_weights
from vlp.train.optim import OptimizerSettings, lightning_optimizers

RESULTS_NAME = "vqa_results.json"
Classifier = Literal["mlp", "linear"]
ClassifierBias = Literal["zero", "prior"]


class VQAModule(LightningModule):
    """Finetunes a `VLModel` on VQA: `question [SEP] tags [SEP] regions` in, a score per candidate answer out.

    The classifier sits on the pooled `[CLS]` output, after dropout (Oscar's `ImageBertForSequenceClassification`),
    and is named `classifier` so that Oscar's VQA checkpoints load into it and `vlp.convert` exports it. Training
    minimises BCE against the soft targets, scaled by the number of answers (`finetune.vqa.loss`). Validation logs the
    official accuracy, `val/vqa_acc` and `val/vqa_acc/<answer type>`, synchronised across processes. `predict` writes
    the results json the evaluation server takes.

    Args:
        config: the model's architecture; with `init_from` it must be the checkpoint's (dropout may differ: Oscar
            finetunes VQA with `hidden_dropout` 0.3, which the classifier's input dropout follows).
        answers: the answer classes, a list or an `answers.json` (`AnswerVocabulary.save`). None: taken from the data
            module's vocabulary at setup, with a fresh classifier (give them here to load a finetuned checkpoint's
            classifier through `init_from`).
        classifier: "mlp" (Linear(H -> scale * H), ReLU, Linear(-> C): Oscar's `mlp`, UNITER's shape) or "linear"
            (Oscar's `linear`, which its released VQA recipe used).
        classifier_hidden_scale: the mlp's hidden width in multiples of H (Oscar's `cls_hidden_scale`).
        optimizer: AdamW and its warmup and linear decay, counted in optimizer steps.
        classifier_lr_multiplier: the classifier's learning rate in multiples of `optimizer.lr` (UNITER's `lr_mul`:
            its VQA recipe trains the fresh head at 10 x 8e-5 and the pretrained body at 8e-5; Oscar uses 1).
        classifier_bias: the output bias of a fresh classifier: "zero" (Oscar, UNITER), or "prior", the log-odds of
            each answer's mean soft target over the training questions (`VQADataModule.answer_log_odds`), so that
            training starts at the answer base rates rather than at 0.5 for every answer. A classifier loaded from a
            checkpoint keeps its weights.
        init_from: a checkpoint to start from (see `init_format`); None starts from random weights.
        init_format: `vlp` folder (written by `vlp fit` pretraining), `oscar` (official Oscar/VinVL folder), `uniter`
            (UNITER's `.pt` with its config JSON beside it) or `hf-bert` (text-only BERT; the region embedding starts
            fresh).
        results: the results json `predict` writes; default `vqa_results.json` in the trainer's `default_root_dir`.

    Raises:
        FileNotFoundError: `init_from` does not exist.
    """

    def __init__(
        self,
        config: VLConfig,
        answers: list[str] | str | None = None,
        classifier: Classifier = "mlp",
        classifier_hidden_scale: int = 2,
        optimizer: OptimizerSettings | None = None,
        classifier_lr_multiplier: float = 1.0,
        classifier_bias: ClassifierBias = "zero",
        init_from: str | None = None,
        init_format: InitFormat = "vlp",
        results: str | None = None,
    ) -> None:
        super().__init__()
        self.optimizer_settings = optimizer or OptimizerSettings()
        save_plain_hyperparameters(self, ignore=("answers",), config=config, optimizer=self.optimizer_settings)
        if classifier not in ("mlp", "linear"):
            raise ValueError(f"classifier must be 'mlp' or 'linear', got {classifier!r}")
        if classifier_bias not in ("zero", "prior"):
            raise ValueError(f"classifier_bias must be 'zero' or 'prior', got {classifier_bias!r}")
        if classifier_lr_multiplier <= 0:
            raise ValueError(f"classifier_lr_multiplier must be positive, got {classifier_lr_multiplier}")
        self.classifier_kind, self.classifier_hidden_scale = classifier, classifier_hidden_scale
        self.classifier_lr_multiplier, self.classifier_bias = classifier_lr_multiplier, classifier_bias
        self.results_file = results
        self.model = VLModel(config)
        self.heads = nn.ModuleDict()
        self.answers: tuple[str, ...] = ()
        # Whether the classifier (once built) still has its random initial weights, neither loaded nor biased yet.
        self._classifier_fresh = True
        if answers is not None:
            self._add_classifier(AnswerVocabulary.load(Path(answers)).answers if isinstance(answers, str) else answers)
        if init_from is not None:
            fresh = load_initial_weights(self.model, self.heads, init_from, init_format)
            # A classifier the checkpoint held has learned weights: the prior must not overwrite its bias.
            self._classifier_fresh = self._classifier_fresh and "heads.classifier" in fresh
        self.val_accuracy = VQAAccuracy()
        self._predictions: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def _add_classifier(self, answers: Sequence[str]) -> None:
        """Builds the classifier over `answers` and records them (in the checkpoint's hyperparameters too)."""
        config = self.model.config
        hidden, classes = config.hidden_size, len(answers)
        if self.classifier_kind == "mlp":
            self.heads["classifier"] = MLPClassificationHead(
                hidden,
                classes,
                hidden * self.classifier_hidden_scale,
                "relu",
                dropout=config.hidden_dropout,
                initializer_range=config.initializer_range,
            )
        else:
            self.heads["classifier"] = ClassificationHead(
                hidden, classes, config.hidden_dropout, config.initializer_range
            )
        self.answers = tuple(answers)
        self.hparams["answers"] = list(answers)

    def _set_output_bias(self, log_odds: Sequence[float]) -> None:
        """Sets the bias of the classifier's last linear layer ([C] values, one per answer)."""
        output = [layer for layer in self.heads["classifier"].modules() if isinstance(layer, nn.Linear)][-1]
        with torch.no_grad():
            output.bias.copy_(torch.as_tensor(log_odds, dtype=output.bias.dtype))

    def setup(self, stage: str) -> None:
        """Takes the answer classes from the data module when none were given, and checks its vocabularies."""
        datamodule = getattr(self.trainer, "datamodule", None)
        vocabulary: AnswerVocabulary | None = getattr(datamodule, "vocabulary", None)
        if vocabulary is not None:
            if "classifier" not in self.heads:
                self._add_classifier(vocabulary.answers)
                rank_zero_info(f"initialised fresh: heads.classifier ({len(vocabulary)} answers)")
            elif vocabulary.answers != self.answers:
                raise ValueError(
                    f"the data's answer vocabulary ({len(vocabulary)} answers) is not the model's ({len(self.answers)} "
                    "answers): give the data the model's answers file"
                )
        if "classifier" not in self.heads:
            raise ValueError("VQAModule has no answer classes: give `answers`, or data with a `vocabulary`")
        # Only fitting starts from the prior: elsewhere a checkpoint's classifier replaces this one (and the training
        # questions are not loaded). Resuming a fit loads the checkpoint after this, over the prior.
        if self.classifier_bias == "prior" and self._classifier_fresh and stage == "fit":
            if not hasattr(datamodule, "answer_log_odds"):
                raise ValueError("classifier_bias 'prior' takes the answer priors from a VQADataModule's training set")
            self._set_output_bias(datamodule.answer_log_odds())
            self._classifier_fresh = False
            rank_zero_info("heads.classifier: output bias set to the training answers' log-odds")
        check_data_fits_model(self.model.config, datamodule)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuses a checkpoint trained over other answers, by name, before its classifier's shape does."""
        saved = checkpoint.get("hyper_parameters", {}).get("answers")
        if saved is not None and tuple(saved) != self.answers:
            raise ValueError(
                f"the checkpoint was trained over other answers ({len(saved)}) than the data's ({len(self.answers)}): "
                "give the data the answers.json it was trained with"
            )

    def forward(self, batch: VQABatch) -> torch.Tensor:
        """Float[B, C] answer logits of a batch (float32 under bf16 autocast too: `vlp.model.in_float32`)."""
        return in_float32(self.heads["classifier"], self.model(batch.text, batch.regions).pooled_output)

    def predicted_answers(self, logits: torch.Tensor) -> list[str]:
        """[B] the highest scoring answer of each row of [B, C] logits."""
        return [self.answers[index] for index in logits.argmax(dim=-1).tolist()]

    def training_step(self, batch: VQABatch, batch_idx: int) -> torch.Tensor:
        if batch.targets is None:
            raise ValueError("training questions need annotations: every training source needs its annotations file")
        loss = vqa_bce_loss(self(batch), batch.targets)
        self.log("train/loss", loss, batch_size=batch.size, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: VQABatch, batch_idx: int) -> None:
        if not batch.annotated:
            raise ValueError("validation questions need annotations (human answers and answer types)")
        logits = self(batch)
        if batch.targets is not None:
            loss = vqa_bce_loss(logits, batch.targets)
            self.log("val/loss", loss, batch_size=batch.size, on_epoch=True, sync_dist=True)
        self.val_accuracy.update(self.predicted_answers(logits), batch.answers, batch.answer_types)  # type: ignore[arg-type]

    def on_validation_epoch_end(self) -> None:
        # `compute` sums every process's scores and counts first, so each process logs the same global numbers.
        accuracy = self.val_accuracy.compute()
        self.log("val/vqa_acc", accuracy["overall"])
        for name, value in accuracy.items():
            if name.startswith("answer_type/"):
                self.log(f"val/vqa_acc/{name.removeprefix('answer_type/')}", value)
        self.val_accuracy.reset()

    def on_predict_epoch_start(self) -> None:
        self._predictions.clear()

    def predict_step(self, batch: VQABatch, batch_idx: int) -> list[str]:
        """[B] the predicted answers (also kept for the results file)."""
        classes = self(batch).argmax(dim=-1)
        self._predictions.append((batch.index, batch.question_ids, classes))
        return [self.answers[index] for index in classes.tolist()]

    @property
    def results_path(self) -> Path:
        """Where `predict` writes the results json."""
        return Path(self.results_file) if self.results_file else Path(self.trainer.default_root_dir) / RESULTS_NAME

    def on_predict_epoch_end(self) -> None:
        """Gathers every process's answers and writes them, in question file order, from process 0."""
        if self._predictions:
            index, question_ids, classes = (torch.cat(parts) for parts in zip(*self._predictions, strict=True))
        else:  # a process may get no question at all when there are fewer questions than processes
            index = question_ids = classes = torch.empty(0, dtype=torch.long, device=self.device)
        pairs = gather_predictions(index, question_ids, classes, self.all_gather)
        self._predictions.clear()
        if self.trainer.is_global_zero:
            write_results(self.results_path, [(question_id, self.answers[answer]) for question_id, answer in pairs])
            rank_zero_info(f"{len(pairs)} answers written to {self.results_path}")

    def configure_optimizers(self) -> dict[str, object]:
        return lightning_optimizers(self, self.optimizer_settings, {"heads.classifier.": self.classifier_lr_multiplier})
