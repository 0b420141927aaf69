"""Evaluation metrics with the official conventions of each benchmark.

- `vlp.metrics.vqa_normalize`: the official VQA answer normalisation.
- `vlp.metrics.vqa_accuracy`: the official per-question VQA accuracy (plain Python, no torch).
- `vlp.metrics.vqa_metric`: `VQAAccuracy`, the torchmetrics metric that synchronises across processes.

Nothing is imported here, so that the offline evaluators (`vlp eval`) start without loading torch.
"""
