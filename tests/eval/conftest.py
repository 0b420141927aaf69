from tests.eval.vqa_helpers import vqa_world

__all__ = ["vqa_world"]
