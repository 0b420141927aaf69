"""Offline evaluation of result files with the official metrics: `vlp eval TASK` (`vlp.eval.cli`).

- `vlp.eval.vqa`: VQA v2 accuracy of a `[{"question_id", "answer"}]` results file.
- `vlp.eval.vqa_files`: reading and writing the official VQA v2 question, annotation and results files.
"""
