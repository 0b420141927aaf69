"""VQAModule: its loss against a reference, Oscar's classifier layout, initial weights from Oscar and vlp folders,
and a results file that `vlp eval vqa` scores as the module's own metric does."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything
from torch.testing import assert_close

from finetune.vqa import VQAModule
from tests.finetune.vqa_setup import VQAData, tiny_config
from vlp.cli.main import main as vlp_main
from vlp.convert import read_oscar, write_folder, write_oscar
from vlp.convert.base import VLBundle, mlm_head_spec
from vlp.eval.vqa_files import read_questions
from vlp.model import ClassificationHead, MLPClassificationHead, VLModel
from vlp.train.optim import OptimizerSettings

ANSWERS = ["yes", "no", "2", "red", "circle"]


def trainer(root: Path, **options: object) -> Trainer:
    arguments: dict[str, object] = {
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(root),
    }
    return Trainer(**(arguments | options))  # type: ignore[arg-type]


def test_training_loss_is_bce_summed_over_answers(vqa_data: VQAData) -> None:
    datamodule = vqa_data.datamodule()
    module = VQAModule(tiny_config(), answers=list(vqa_data.vocabulary.answers))
    batch = next(iter(datamodule.train_dataloader()))
    loss = module.training_step(batch, 0)

    pooled = module.model(batch.text, batch.regions).pooled_output
    head = module.heads["classifier"]
    logits = head.out(F.relu(head.dense(pooled)))  # no dropout in this config
    assert batch.targets is not None
    reference = -(batch.targets * F.logsigmoid(logits) + (1 - batch.targets) * F.logsigmoid(-logits))
    assert_close(loss, reference.sum(dim=1).mean())


def test_classifier_exports_in_oscars_vqa_layout(tmp_path: Path) -> None:
    config = tiny_config(hidden_dropout=0.3)
    module = VQAModule(config, answers=ANSWERS)
    head = module.heads["classifier"]
    assert isinstance(head, MLPClassificationHead)
    assert (head.dense.in_features, head.dense.out_features, head.out.out_features) == (32, 64, len(ANSWERS))
    assert (head.hidden_act, head.use_layer_norm, head.dropout) == ("relu", False, 0.3)
    write_oscar(VLBundle(module.model, dict(module.heads.items())), tmp_path)
    keys = torch.load(tmp_path / "pytorch_model.bin", weights_only=True).keys()
    assert {"classifier.0.weight", "classifier.0.bias", "classifier.2.weight", "classifier.2.bias"} <= set(keys)
    oscar = json.loads((tmp_path / "config.json").read_text())
    assert (oscar["classifier"], oscar["num_labels"], oscar["cls_hidden_scale"]) == ("mlp", len(ANSWERS), 2)


@pytest.mark.parametrize("classifier", ["mlp", "linear"])
def test_oscar_vqa_checkpoint_loads_whole(tmp_path: Path, classifier: str) -> None:
    config = tiny_config()
    if classifier == "mlp":
        head: torch.nn.Module = MLPClassificationHead(32, len(ANSWERS), 64, "relu")
    else:
        head = ClassificationHead(32, len(ANSWERS))
    bundle = VLBundle(VLModel(config), {"classifier": head})
    write_oscar(bundle, tmp_path)  # official key names: bert.*, bert.img_embedding, classifier.*
    report = read_oscar(tmp_path).report
    assert report.unexpected == () and report.missing == {}

    module = VQAModule(config, answers=ANSWERS, classifier=classifier, init_from=str(tmp_path), init_format="oscar")
    loaded = VLBundle(module.model, dict(module.heads.items())).state_dict()
    expected = bundle.state_dict()
    assert loaded.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(loaded[name], tensor), name


def test_pretrained_checkpoints_start_the_classifier_fresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, vqa_data: VQAData
) -> None:
    config = tiny_config()
    pretrained = VLBundle.create(config, {"mlm": mlm_head_spec(config)})
    write_oscar(pretrained, tmp_path / "oscar")
    write_folder(pretrained, tmp_path / "vlp")
    for folder, init_format in ((tmp_path / "oscar", "oscar"), (tmp_path / "vlp", "vlp")):
        with caplog.at_level(logging.INFO):
            module = VQAModule(config, answers=ANSWERS, init_from=str(folder), init_format=init_format)
        assert f"{folder}: initialised fresh: heads.classifier" in caplog.text
        for name, tensor in pretrained.model.state_dict().items():
            assert torch.equal(module.model.state_dict()[name], tensor), name

    # Without answers, the classifier comes from the data's vocabulary at setup.
    module = VQAModule(config, init_from=str(tmp_path / "vlp"))
    assert "classifier" not in module.heads
    trainer(tmp_path / "run", limit_val_batches=1).validate(module, vqa_data.datamodule())
    assert module.answers == vqa_data.vocabulary.answers and module.hparams["answers"] == list(module.answers)


def test_missing_initial_checkpoint_and_other_answers_are_clear_errors(tmp_path: Path, vqa_data: VQAData) -> None:
    with pytest.raises(FileNotFoundError, match=r"init_from .*nowhere does not exist.*init_from=null"):
        VQAModule(tiny_config(), init_from=str(tmp_path / "nowhere"))
    module = VQAModule(tiny_config(), answers=ANSWERS)
    with pytest.raises(ValueError, match=r"answer vocabulary .* is not the model's"):
        trainer(tmp_path).validate(module, vqa_data.datamodule())
    with pytest.raises(ValueError, match=r"trained over other answers \(2\) than the data's \(5\)"):
        module.on_load_checkpoint({"hyper_parameters": {"answers": ["yes", "no"]}})
    module.on_load_checkpoint({"hyper_parameters": {"answers": ANSWERS}})


def test_predicted_results_score_as_the_module_metric(tmp_path: Path, vqa_data: VQAData) -> None:
    seed_everything(0)
    datamodule = vqa_data.datamodule()
    # Large random weights answer differently from question to question, without training.
    module = VQAModule(tiny_config(initializer_range=1.0), results=str(tmp_path / "results.json"))
    run = trainer(tmp_path)
    metrics = run.validate(module, datamodule)[0]
    answers = run.predict(module, datamodule)
    assert answers is not None and len({answer for batch in answers for answer in batch}) > 1  # type: ignore[union-attr]

    source = vqa_data.source("val")
    written = json.loads((tmp_path / "results.json").read_text())
    assert [entry["question_id"] for entry in written] == list(read_questions(Path(source.questions)))
    output = tmp_path / "accuracy.json"
    status = vlp_main(
        [
            "eval",
            "vqa",
            f"--questions={source.questions}",
            f"--annotations={source.annotations}",
            f"--results={tmp_path / 'results.json'}",
            f"--output={output}",
        ]
    )
    assert status == 0
    official = json.loads(output.read_text())
    # The evaluation rounds to two decimals; the metric does not.
    assert abs(official["overall"] - metrics["val/vqa_acc"]) <= 0.005 + 1e-6
    for answer_type, value in official["perAnswerType"].items():
        assert abs(value - metrics[f"val/vqa_acc/{answer_type}"]) <= 0.005 + 1e-6


def test_prior_bias_and_classifier_learning_rate(tmp_path: Path, vqa_data: VQAData) -> None:
    datamodule = vqa_data.datamodule()
    module = VQAModule(
        tiny_config(),
        classifier_bias="prior",
        classifier_lr_multiplier=10.0,
        optimizer=OptimizerSettings(lr=1e-3, weight_decay=0.05),
    )
    seen: dict[str, object] = {}

    class Inspect(Callback):
        def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
            head = pl_module.heads["classifier"]
            seen["bias"] = head.out.bias.detach().clone()
            classifier = {id(p) for p in head.parameters()}
            seen["groups"] = [
                (group["lr"], group["weight_decay"], all(id(p) in classifier for p in group["params"]))
                for group in trainer.optimizers[0].param_groups
            ]

    trainer(tmp_path, max_steps=1, limit_val_batches=0, callbacks=[Inspect()]).fit(module, datamodule)
    # The bias starts at the log-odds of each answer's mean soft target over the training questions.
    dataset = datamodule.datasets["train"]
    targets = [dataset.example(i).target for i in range(len(dataset))]
    means = [
        sum(t.scores[t.indices.index(c)] for t in targets if t is not None and c in t.indices) / len(targets)
        for c in range(len(vqa_data.vocabulary))
    ]
    expected = [math.log(max(p, 1e-4) / (1 - max(p, 1e-4))) for p in means]
    assert_close(seen["bias"], torch.tensor(expected))
    # Four groups: body and classifier, each with decayed matrices and undecayed vectors; only the classifier's at 10x.
    assert sorted(seen["groups"]) == sorted(
        [(1e-3, 0.05, False), (1e-3, 0.0, False), (1e-2, 0.05, True), (1e-2, 0.0, True)]
    )


def test_classifier_options_are_checked() -> None:
    with pytest.raises(ValueError, match="classifier_bias must be 'zero' or 'prior'"):
        VQAModule(tiny_config(), answers=ANSWERS, classifier_bias="uniform")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="classifier_lr_multiplier must be positive"):
        VQAModule(tiny_config(), answers=ANSWERS, classifier_lr_multiplier=0.0)


def test_prior_bias_spares_a_classifier_loaded_from_a_checkpoint(tmp_path: Path, vqa_data: VQAData) -> None:
    answers, config = list(vqa_data.vocabulary.answers), tiny_config()
    head = MLPClassificationHead(32, len(answers), 64, "relu")
    torch.nn.init.normal_(head.out.bias)
    write_oscar(VLBundle(VLModel(config), {"classifier": head}), tmp_path / "oscar")
    frozen = OptimizerSettings(lr=0.0)  # one step that changes nothing, so the biases seen are the starting ones
    loaded = VQAModule(
        config,
        answers=answers,
        classifier_bias="prior",
        optimizer=frozen,
        init_from=str(tmp_path / "oscar"),
        init_format="oscar",
    )
    given = VQAModule(config, answers=answers, classifier_bias="prior", optimizer=frozen)
    datamodule = vqa_data.datamodule()
    for name, module in (("loaded", loaded), ("given", given)):
        trainer(tmp_path / name, max_steps=1, limit_val_batches=0).fit(module, datamodule)
    assert torch.equal(loaded.heads["classifier"].out.bias, head.out.bias)
    # Answers given without a checkpoint make a fresh classifier, which starts from the prior like one built at setup.
    assert_close(given.heads["classifier"].out.bias, torch.tensor(datamodule.answer_log_odds()))
