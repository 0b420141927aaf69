"""OmegaConf resolvers that vlp's configs may use, registered before LightningCLI reads a config.

`${vlp.feature_dim:PATH}` is the region feature width of the store at PATH (a file, shard name or folder), so that a
config reads `region_feature_dim` from the store it trains on instead of repeating it by hand:

```yaml
model:
  init_args:
    config:
      region_feature_dim: ${vlp.feature_dim:${data.init_args.train[0].init_args.store}}
```
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf


def store_feature_dim(path: str, base: Path) -> int:
    """D of the region store at `path` (relative to `base`), read from its files' attributes (no features are read)."""
    from vlp.store import RegionStore

    return RegionStore(base / path).feature_dim


def register_resolvers() -> None:
    """Registers vlp's resolvers (again: a later registration replaces an earlier one).

    Relative paths are taken from the working directory at registration, as the data modules read them later:
    jsonargparse changes into a config file's folder while it reads the file, and resolvers run then.
    """
    base = Path.cwd()
    OmegaConf.register_new_resolver("vlp.feature_dim", lambda path: store_feature_dim(path, base), replace=True)
