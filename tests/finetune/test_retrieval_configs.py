"""The retrieval configs: Oscar's recipe in the full-size ones, and every config fitted for one batch, tested and
predicted on the synthetic world in each evaluation mode, its rankings re-scored by `vlp eval retrieval`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from finetune.retrieval import RetrievalDataModule, RetrievalModule
from finetune.retrieval.demo import main as demo_main
from tests.config_runs import CPU, SMALL_MODEL, environment, instantiate, plain_and_shuffled
from tests.data.conftest import demo_data
from tests.finetune.test_vqa_configs import CONFIGS, data_tree
from vlp.cli.main import main as vlp_main
from vlp.report import read_summaries

__all__ = ["data_tree", "demo_data", "environment"]


def logged(root: Path, prefix: str) -> dict[str, float]:
    """The last logged value of every metric under `prefix` in the run's CSV log."""
    rows = list(csv.DictReader(next(root.glob("lightning_logs/version_*/metrics.csv")).open()))
    values: dict[str, float] = {}
    for row in rows:
        values |= {name: float(value) for name, value in row.items() if name.startswith(prefix) and value}
    return values


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "split_file", "folds"),
    [
        ("retrieval_coco.yaml", "coco/dataset_coco.json", 5),
        ("retrieval_flickr30k.yaml", "flickr30k/dataset_flickr30k.json", 1),
    ],
)
def test_full_size_configs_have_oscars_recipe_fit_test_and_predict(
    environment, tmp_path, capsys, config, split_file, folds
):
    cli = instantiate(CONFIGS / config, "--model.init_args.init_from=null")
    module, data = cli.model, cli.datamodule
    assert isinstance(module, RetrievalModule) and isinstance(data, RetrievalDataModule)
    settings = module.optimizer_settings
    assert (settings.lr, settings.weight_decay, cli.trainer.max_epochs) == (2e-5, 0.05, 30)
    assert (data.loader.batch_size, data.max_tokens, data.max_regions, data.tags) == (32, 70, 50, True)
    assert [source.folds for source in data.sources["test"]] == [folds]
    overrides = [*SMALL_MODEL, *CPU, f"--trainer.default_root_dir={tmp_path}", "--data.init_args.loader.batch_size=4"]
    if folds > 1:
        # The world's 4 test images make two folds of 2, where COCO's 5,000 make five of 1,000.
        folds, test = 2, data.sources["test"][0]
        gallery = json.dumps([{"split_file": test.split_file, "store": test.store, "splits": ["test"], "folds": folds}])
        overrides += [f"--data.init_args.test={gallery}", f"--data.init_args.predict={gallery}"]
    vlp_main(["fit", "--config", str(CONFIGS / config), "--trainer.fast_dev_run=true", *overrides])
    for mode in ("exact", "fast", "embedding"):
        run = [*overrides, f"--model.init_args.evaluation={mode}", f"--trainer.default_root_dir={tmp_path / mode}"]
        vlp_main(["test", "--config", str(CONFIGS / config), *run])
        recall = logged(tmp_path / mode, "test/")
        assert set(recall) == {f"test/{d}/R@{k}" for d in ("image_to_text", "text_to_image") for k in (1, 5, 10)} | {
            "test/rsum"
        }
        vlp_main(["predict", "--config", str(CONFIGS / config), *run])
        capsys.readouterr()
        output = tmp_path / mode / "recall.json"
        argv = ["eval", "retrieval", f"--split-file={Path(environment['VLP_DATA'], split_file)}", "--split=test"]
        argv += [f"--results={tmp_path / mode / 'rankings.json'}", f"--folds={folds}", f"--output={output}"]
        assert vlp_main(argv) == 0
        rescored = json.loads(output.read_text())
        # The file re-scored offline gives the recall the test loop logged.
        for name, value in rescored.items():
            assert value == pytest.approx(recall[f"test/{name}"], abs=1e-3), (mode, name)


@pytest.mark.slow
def test_demo_config_fits_and_ranks_the_test_images(environment, tmp_path):
    cli = instantiate(CONFIGS / "demo_retrieval.yaml")
    assert isinstance(cli.model, RetrievalModule) and cli.model.negatives == "hard"
    overrides = [*CPU, f"--trainer.default_root_dir={tmp_path}"]
    vlp_main(["fit", "--config", str(CONFIGS / "demo_retrieval.yaml"), "--trainer.fast_dev_run=true", *overrides])
    assert (tmp_path / "finetuned/config.json").is_file()
    heads = json.loads((tmp_path / "finetuned/config.json").read_text())["heads"]
    assert set(heads) == {"itm", "text_projection", "image_projection"}
    vlp_main(["predict", "--config", str(CONFIGS / "demo_retrieval.yaml"), *overrides])
    rankings = json.loads((tmp_path / "rankings.json").read_text())
    karpathy = json.loads(Path(environment["VLP_DEMO_DIR"], "world/annotations/dataset_coco.json").read_text())
    test = [image for image in karpathy["images"] if image["split"] == "test"]
    assert [entry["image_id"] for entry in rankings["image_to_text"]] == [image["cocoid"] for image in test]
    assert len(rankings["text_to_image"]) == sum(len(image["sentids"]) for image in test)
    # The demo ranks four folds: the world's 4 test images make folds of one image, ranked against its own captions.
    sentids = {image["cocoid"]: image["sentids"] for image in test}
    for entry in rankings["image_to_text"]:
        assert sorted(entry["caption_ids"]) == sorted(sentids[entry["image_id"]][:10])


@pytest.mark.slow
def test_the_demo_ranks_with_real_and_shuffled_regions_and_names_shapes_zero_shot(environment, capsys):
    overrides = ["--trainer.max_steps=2", "--trainer.limit_val_batches=0", "--data.init_args.loader.num_workers=0"]
    assert demo_main(["--run-dir", environment["VLP_DEMO_DIR"], *overrides]) == 0
    out = capsys.readouterr().out
    for run in ("exact, real", "exact, shuffled", "fast, real", "fast, shuffled"):
        assert run in out
    assert "R@1 real / shuffled" in out and "zero-shot, each test image's largest shape: top-1" in out
    root = Path(environment["VLP_DEMO_DIR"], "finetune/retrieval")
    recall = json.loads((root / "exact_real_recall.json").read_text())
    assert set(recall) >= {"image_to_text/R@1", "text_to_image/R@10", "rsum"}
    assert len(json.loads((root / "zero_shot.json").read_text())) > 0
    # The report's records: the last mode's mean R@1 against its shuffled control, zero-shot against chance.
    fast = json.loads((root / "fast_real_recall.json").read_text())
    shuffled = json.loads((root / "fast_shuffled_recall.json").read_text())
    summaries = read_summaries(Path(environment["VLP_DEMO_DIR"]))
    retrieval, zero_shot = summaries["retrieval"], summaries["zero-shot"]
    assert retrieval.value == pytest.approx((fast["image_to_text/R@1"] + fast["text_to_image/R@1"]) / 2)
    assert retrieval.controls == {
        "regions shuffled at test": pytest.approx((shuffled["image_to_text/R@1"] + shuffled["text_to_image/R@1"]) / 2)
    }
    assert zero_shot.controls == {"chance": pytest.approx(100 / 7)} and 0 <= zero_shot.value <= 100


def test_the_demo_refuses_an_unknown_mode(environment, capsys):
    with pytest.raises(SystemExit):
        demo_main(["--run-dir", environment["VLP_DEMO_DIR"], "--modes=fast,approximate"])
    assert "--modes takes exact, fast" in capsys.readouterr().err


@pytest.mark.slow
def test_the_shuffle_flag_given_to_fitting_shuffles_the_training_images_too(environment):
    """`vlp demo --full`'s trained control: with the flag, the training captions come with other images' regions."""
    plain, shuffled = plain_and_shuffled(CONFIGS / "demo_retrieval.yaml", RetrievalDataModule)
    real, other = plain.datasets["train"], shuffled.datasets["train"]
    moved = 0
    for index in range(len(real)):
        mine, theirs = real[index], other[index]
        assert mine.image_id == theirs.image_id and mine.words == theirs.words  # the caption stays with its image id
        moved += not np.array_equal(mine.features, theirs.features)
    assert moved >= 0.9 * len(real)
