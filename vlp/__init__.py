"""vlp: vision-language pretraining in the Oscar / UNITER / ROSITA style."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vlp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
