"""What the command-line tools print instead of a traceback: one line naming the file, key or id at fault, and the
warnings of dependencies that a user cannot act on, silenced."""

from __future__ import annotations

import logging
import os
import sys
import warnings

from omegaconf.errors import OmegaConfBaseException

# Lightning's and jsonargparse's notices about their own internals, which no vlp user can act on.
DEPENDENCY_NOTICES = (
    "LightningCLI's args parameter",
    ".*tensorboardX.*",
    ".*does not have many workers which may be a bottleneck.*",
)
# Lightning's advertisements, logged at INFO through its own handlers.
LIGHTNING_TIPS = ("💡 Tip",)


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(LIGHTNING_TIPS)


TRACEBACK_VARIABLE = "VLP_TRACEBACK"
"""Set it (to anything) to get the full traceback of an error that is otherwise reported in one line."""


def omegaconf_message(error: OmegaConfBaseException, scope: str = "") -> str:
    """One line of an OmegaConf error: the key at fault (`full_key`, without the `scope.` a subcommand's parser puts
    before the file's keys) and what is wrong with it, without the object dumps OmegaConf appends."""
    message = (getattr(error, "msg", None) or str(error)).strip().splitlines()[0]
    key = getattr(error, "full_key", None)
    if key and scope:
        key = key.removeprefix(f"{scope}.")
    return f"key {key}: {message}" if key else message


def quiet_dependencies() -> None:
    """Silences dependency warnings and notices: deprecations inside Lightning, jsonargparse and transformers, and the
    notices in `DEPENDENCY_NOTICES`. vlp's own warnings stay."""
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    for message in DEPENDENCY_NOTICES:
        warnings.filterwarnings("ignore", message=message)
    import lightning.pytorch  # noqa: F401  (its import adds the handlers the tips go through)

    for name in ("lightning.pytorch", "lightning.fabric"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(_DropTips())


def report_error(command: str, error: BaseException, scope: str = "") -> int:
    """Prints `error` as one line for `command` (the full traceback when `VLP_TRACEBACK` is set) and returns the
    exit status 2. `scope`: the subcommand whose name prefixes the config keys of OmegaConf errors (`fit`)."""
    if os.environ.get(TRACEBACK_VARIABLE):
        raise error
    if isinstance(error, OmegaConfBaseException):
        message = omegaconf_message(error, scope)
    elif isinstance(error, KeyError) and error.args:
        message = str(error.args[0])
    else:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    print(f"{command}: error: {message}", file=sys.stderr)
    return 2
