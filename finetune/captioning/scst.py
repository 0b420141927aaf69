"""Self-critical sequence training (Rennie et al. 2017), as Oscar's `--scst`: sample captions, reward each with its
CIDEr-D against the image's references, and raise the log-probability of captions that beat a baseline.

The reward is computed in-process (`vlp.metrics.cider.CiderD`) with document frequencies cached from the training
references, so the training path needs no Java. Baselines: the greedy caption's reward (Rennie et al.), or the mean
reward of the image's other samples (leave-one-out, as in VinVL and later work).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch

from vlp.metrics.cider import CiderD
from vlp.world import tokenize_caption

Baseline = Literal["mean", "greedy"]


class CiderReward:
    """CIDEr-D rewards with document frequencies of a reference corpus (the training captions).

    Args:
        references: image id -> its reference captions.
    """

    def __init__(self, references: Mapping[str, Sequence[str]]) -> None:
        self.references = {image: [tokenize_caption(text) for text in texts] for image, texts in references.items()}
        self.cider = CiderD(self.references)

    def __call__(self, image_ids: Sequence[str], captions: Sequence[str]) -> torch.Tensor:
        """Float[N] the CIDEr-D of each caption against its image's references.

        Raises:
            KeyError: naming an image without references.
        """
        missing = [image for image in image_ids if image not in self.references]
        if missing:
            raise KeyError(f"SCST rewards need the references of image ids {missing[:5]}")
        return torch.tensor(
            [
                self.cider.score(tokenize_caption(caption), self.references[image])
                for image, caption in zip(image_ids, captions, strict=True)
            ]
        )


def scst_loss(
    log_probs: torch.Tensor, rewards: torch.Tensor, baseline: Baseline, greedy_rewards: torch.Tensor | None = None
) -> torch.Tensor:
    """The policy-gradient loss of [B, S] sampled captions' summed log-probabilities and rewards.

    Args:
        log_probs: Float[B, S] summed log-probabilities of each sample (with gradients).
        rewards: Float[B, S] their rewards.
        baseline: "mean", the mean reward of the image's other S - 1 samples; or "greedy", the reward of the image's
            greedy caption (`greedy_rewards`, Float[B]).
        greedy_rewards: the greedy captions' rewards, for the greedy baseline.

    Returns:
        The mean over samples of -(reward - baseline) * log-probability; the advantage carries no gradient.
    """
    if baseline == "greedy":
        if greedy_rewards is None:
            raise ValueError("the greedy baseline needs the greedy captions' rewards")
        reference = greedy_rewards[:, None].expand_as(rewards)
    else:
        samples = rewards.shape[1]
        if samples < 2:
            raise ValueError("the leave-one-out mean baseline needs at least 2 samples per image")
        reference = (rewards.sum(dim=1, keepdim=True) - rewards) / (samples - 1)
    advantage = (rewards - reference).to(log_probs.device, log_probs.dtype).detach()
    return -(advantage * log_probs).mean()
