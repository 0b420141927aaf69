"""Fixtures of the finetuning tests: the VQA world of the evaluation tests, and a world with a region store."""

from tests.config_runs import environment
from tests.data.conftest import demo_data
from tests.eval.vqa_helpers import vqa_world
from tests.finetune.vqa_setup import vqa_data

__all__ = ["demo_data", "environment", "vqa_data", "vqa_world"]
