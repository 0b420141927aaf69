"""Every VQA YAML parses, instantiates, fits one batch (`fast_dev_run`) and predicts a results file that `vlp eval vqa`
scores, on the synthetic world.

The full-size config reads VLP_DATA and VLP_PRETRAINED; here they name a tree whose files are the world's (train, val
and, as test-dev, the test questions) with a 2048-d region store and a BERT vocabulary, so the config runs unchanged
apart from a smaller model. The demo reads VLP_DEMO_DIR and VLP_DEMO_STORE, and its
pretrained folder is written here in the demo's architecture.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from finetune.vqa import VQADataModule, VQAModule
from finetune.vqa.demo import VQADemoResult, run_vqa_demo
from tests.config_runs import CPU, SMALL_MODEL, instantiate, link
from tests.data.conftest import FEATURE_DIM, DemoData, bert_vocab
from tests.data.world_store import build_world_store
from vlp.cli.main import main as vlp_main
from vlp.convert import write_folder
from vlp.convert.base import VLBundle
from vlp.data.tokenizer import train_vocabulary
from vlp.model import VLConfig
from vlp.report import StageSummary

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "finetune"


def demo_architecture() -> dict[str, int | str]:
    """The sizes and initialisation of configs/pretrain/demo_oscar.yaml's model, which configs/finetune/demo_vqa.yaml
    repeats (so that a VQA run from scratch starts as the pretraining did)."""
    pretrain = yaml.safe_load((CONFIGS.parent / "pretrain" / "demo_oscar.yaml").read_text())
    model = pretrain["model"]["init_args"]["config"]
    sizes = ("hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position_embeddings", "attention_init")
    return {"vocab_size": pretrain["data"]["init_args"]["vocab_size"], **{name: model[name] for name in sizes}}


def test_every_yaml_is_tested() -> None:
    # The captioning configs are tested in test_captioning.py, the retrieval configs in test_retrieval_configs.py.
    captioning = {"captioning.yaml", "captioning_scst.yaml", "demo_captioning.yaml"}
    retrieval = {"retrieval_coco.yaml", "retrieval_flickr30k.yaml", "demo_retrieval.yaml"}
    assert {path.name for path in CONFIGS.glob("*.yaml")} == {"vqa.yaml", "demo_vqa.yaml", *captioning, *retrieval}


@pytest.fixture(scope="module")
def data_tree(demo_data: DemoData, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """VLP_DATA and VLP_PRETRAINED for the full-size configs (VQA and captioning), VLP_DEMO_* (with a pretrained
    folder) for the demos."""
    root = tmp_path_factory.mktemp("vqa_data")
    world = demo_data.world
    store = build_world_store(world, root / "regions_2048.h5", feature_dim=2048)
    vqa = root / "data" / "vqa"
    for split, official in (("train", "train2014"), ("val", "val2014"), ("test", "test-dev2015")):
        link(world.vqa_questions[split], vqa / f"v2_OpenEnded_mscoco_{official}_questions.json")
    for split, official in (("train", "train2014"), ("val", "val2014")):
        link(world.vqa_annotations[split], vqa / f"v2_mscoco_{official}_annotations.json")
    link(store, root / "data/features/coco/regions.h5")
    link(store, root / "data/features/coco_test2015/regions.h5")
    link(bert_vocab(), root / "pretrained/vocab.txt")
    # COCO captions as released: train2014, and val2014 holding Karpathy's val and test images.
    link(world.captions["train"], root / "data/coco/captions_train2014.json")
    link(world.karpathy, root / "data/coco/dataset_coco.json")
    val, test = (json.loads(world.captions[split].read_text()) for split in ("val", "test"))
    merged = val | {key: val[key] + test[key] for key in ("images", "annotations")}
    (root / "data/coco/captions_val2014.json").write_text(json.dumps(merged))
    # Flickr30K's split file: Karpathy's layout without COCO ids, images named by file (the store's ids are the stems).
    karpathy = json.loads(world.karpathy.read_text())
    for image in karpathy["images"]:
        image["filename"] = f"{image.pop('cocoid')}.jpg"
    (root / "data/flickr30k").mkdir(parents=True)
    (root / "data/flickr30k/dataset_flickr30k.json").write_text(json.dumps(karpathy | {"dataset": "flickr30k"}))
    link(store, root / "data/features/flickr30k/regions.h5")

    demo = root / "demo"
    link(world.root, demo / "world")
    texts = [q["question"] for q in json.loads(world.vqa_questions["train"].read_text())["questions"]]
    vocab = train_vocabulary(texts, demo / "pretrain/oscar/vocab.txt", vocab_size=demo_architecture()["vocab_size"])
    config = VLConfig(**demo_architecture(), region_feature_dim=FEATURE_DIM)  # type: ignore[arg-type]
    write_folder(VLBundle.create(config), demo / "pretrain/oscar/pretrained", tokenizer_from=vocab)
    return {
        "VLP_DATA": str(root / "data"),
        "VLP_PRETRAINED": str(root / "pretrained"),
        "VLP_DEMO_DIR": str(demo),
        "VLP_DEMO_STORE": str(demo_data.store),
    }


def predict_and_score(config: str, root: Path, world: Path, *overrides: str) -> dict[str, object]:
    """`vlp predict` on the world's test questions, then `vlp eval vqa` of the results file; its accuracy json."""
    vlp_main(["predict", "--config", str(CONFIGS / config), f"--trainer.default_root_dir={root}", *overrides])
    output = root / "accuracy.json"
    status = vlp_main(
        [
            "eval",
            "vqa",
            f"--questions={world / 'vqa' / 'v2_OpenEnded_mscoco_test_questions.json'}",
            f"--annotations={world / 'vqa' / 'v2_mscoco_test_annotations.json'}",
            f"--results={root / 'vqa_results.json'}",
            f"--output={output}",
        ]
    )
    assert status == 0
    return json.loads(output.read_text())


@pytest.mark.slow
def test_full_size_config_has_oscars_recipe(environment: dict[str, str]) -> None:
    cli = instantiate(CONFIGS / "vqa.yaml", "--model.init_args.init_from=null")
    module, data = cli.model, cli.datamodule
    assert isinstance(module, VQAModule) and isinstance(data, VQADataModule)
    config = module.model.config
    assert (config.hidden_size, config.num_layers, config.hidden_dropout) == (768, 12, 0.3)
    settings = module.optimizer_settings
    assert (settings.lr, settings.weight_decay, settings.warmup_steps, settings.warmup_ratio) == (5e-5, 0.05, 0, 0.0)
    assert (data.loader.batch_size, data.max_regions, data.max_tokens, data.min_answer_count) == (32, 50, 128, 9)
    assert cli.trainer.max_epochs == 25 and data.geometry == config.region_style and data.shuffle_seed is None


@pytest.mark.slow
def test_full_size_config_fits_one_batch_and_predicts(environment: dict[str, str], tmp_path: Path) -> None:
    overrides = [*SMALL_MODEL, *CPU, f"--trainer.default_root_dir={tmp_path}", "--data.init_args.loader.batch_size=4"]
    vlp_main(["fit", "--config", str(CONFIGS / "vqa.yaml"), *overrides, "--trainer.fast_dev_run=true"])
    answers = json.loads((tmp_path / "answers.json").read_text())
    assert "yes" in answers and "no" in answers  # built from the training answers, next to the run
    accuracy = predict_and_score("vqa.yaml", tmp_path, Path(environment["VLP_DEMO_DIR"]) / "world", *overrides)
    assert 0 <= float(accuracy["overall"]) <= 100  # type: ignore[arg-type]


@pytest.mark.slow
def test_demo_config_fits_one_batch_and_predicts(environment: dict[str, str], tmp_path: Path) -> None:
    overrides = [f"--trainer.default_root_dir={tmp_path}", "--data.init_args.loader.num_workers=0"]
    vlp_main(["fit", "--config", str(CONFIGS / "demo_vqa.yaml"), *overrides, "--trainer.fast_dev_run=true"])
    assert (tmp_path / "answers.json").is_file()
    accuracy = predict_and_score("demo_vqa.yaml", tmp_path, Path(environment["VLP_DEMO_DIR"]) / "world", *overrides)
    assert set(accuracy["perAnswerType"]) <= {"yes/no", "number", "other"}  # type: ignore[arg-type]


@pytest.mark.slow
def test_demo_config_shuffled_control_and_missing_pretrained_model(
    environment: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = instantiate(CONFIGS / "demo_vqa.yaml", "--data.init_args.shuffle_region_features=true")
    assert isinstance(cli.datamodule, VQADataModule) and cli.datamodule.shuffle_seed == 0
    config = cli.model.model.config.to_dict()
    assert {name: config[name] for name in demo_architecture()} == demo_architecture()
    assert config["region_feature_dim"] == FEATURE_DIM  # read from the store by the config's resolver
    monkeypatch.setenv("VLP_DEMO_DIR", str(tmp_path))
    # jsonargparse reports the module's FileNotFoundError, message and all, in its own error.
    with pytest.raises(ValueError, match=r"pretrain/oscar/pretrained does not exist.*init_from=null"):
        instantiate(CONFIGS / "demo_vqa.yaml")


@pytest.mark.slow
def test_demo_scores_the_model_and_its_controls_and_writes_the_summary(environment: dict[str, str]) -> None:
    run_dir = Path(environment["VLP_DEMO_DIR"])
    quick = ["--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--data.init_args.loader.num_workers=0"]
    result = run_vqa_demo(run_dir, overrides=quick)
    root = run_dir / "finetune" / "vqa"
    assert json.loads((root / "real_accuracy.json").read_text()) == result.real
    assert sorted(result.controls) == ["prior", "shuffled"]
    for name, accuracy in result.controls.items():
        assert json.loads((root / f"{name}_accuracy.json").read_text()) == accuracy
    # The shuffled run answers the same questions as the real one, from another image each.
    real, shuffled = (json.loads((root / f"{n}_results.json").read_text()) for n in ("real", "shuffled"))
    assert sorted(r["question_id"] for r in real) == sorted(r["question_id"] for r in shuffled)
    summary = StageSummary.load(root / "demo_summary.vqa.json")
    assert summary.value == result.real["overall"] and summary.margin == pytest.approx(result.margin)
    assert summary.controls["question-type prior"] == result.controls["prior"]["overall"]
    assert result.report().splitlines()[-1].startswith(f"margin over the best control {result.margin:+.2f} points: ")


def test_demo_report_and_verdict() -> None:
    real = {"overall": 80.0, "perAnswerType": {"yes/no": 90.0, "number": 70.0}}
    shuffled = {"overall": 50.25, "perAnswerType": {"yes/no": 60.0, "number": 30.5}}
    prior = {"overall": 69.5, "perAnswerType": {"yes/no": 70.0, "number": 60.0}}
    report = VQADemoResult(real, {"shuffled": shuffled, "prior": prior}).report().splitlines()
    assert report[0].endswith(" question-type prior") and "regions shuffled at test" in report[0]
    assert report[1].split() == ["overall", "80.00", "50.25", "69.50"]
    assert report[2].split() == ["number", "70.00", "30.50", "60.00"]
    assert report[3].split() == ["yes/no", "90.00", "60.00", "70.00"]
    assert report[-1] == "margin over the best control +10.50 points: the model reads the image"
    weak = VQADemoResult(real, {"shuffled": shuffled, "prior": {**prior, "overall": 75.0}})
    assert weak.report().endswith("margin over the best control +5.00 points: margin below 10 points")
    assert not weak.summary().passed and VQADemoResult(real, {"prior": prior}).summary().passed
