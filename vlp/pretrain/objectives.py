"""The pretraining objectives `PretrainModule` knows: the one place where they are listed.

Adding an objective is its file in `vlp/objectives/` (pure sampling and loss functions, and an `Objective` subclass
that declares its name, heads and loss) and one line here. Its weight then appears in `ObjectiveWeights` and configs,
its heads in `build_heads`, its loss in the masked forward pass, and its metrics as `train/<name>_loss`.
"""

from __future__ import annotations

from vlp.objectives.base import Objective
from vlp.objectives.infonce import InfoNCE
from vlp.objectives.itm import ImageTextMatching
from vlp.objectives.masked_regions import RegionClassification, RegionFeatureRegression
from vlp.objectives.masked_tokens import MaskedTokens
from vlp.objectives.oscar_contrastive import OscarContrastive

OBJECTIVES: tuple[Objective, ...] = (
    MaskedTokens(),
    OscarContrastive(),
    ImageTextMatching(),
    RegionFeatureRegression(),
    RegionClassification(),
    InfoNCE(),
)
"""Every objective, in the order their heads are built and their losses logged."""

BY_NAME: dict[str, Objective] = {objective.name: objective for objective in OBJECTIVES}
