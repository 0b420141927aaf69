"""Finetuning tasks on top of `vlp`'s model and data: one package per task (`finetune.vqa`, ...).

Each task brings its LightningDataModule and LightningModule, named by `class_path` in `configs/finetune/*.yaml` and run
with `vlp fit|validate|predict`; `finetune` imports `vlp`, never the reverse.
"""
