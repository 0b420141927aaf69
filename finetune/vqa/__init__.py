"""VQA v2 finetuning: official files in, answer vocabulary and soft targets (`answers`, `data`)."""
