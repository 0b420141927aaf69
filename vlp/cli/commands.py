"""Running the suite's user-facing commands from the demo, echoed as a user would type them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def run_command(command: Sequence[str], env: dict[str, str] | None = None) -> None:
    """Runs one user-facing command of the suite, echoing it (and the variables it gets) first; raises
    `subprocess.CalledProcessError` if it fails.

    The command's program is looked up beside this Python first, so the demo works from an unactivated virtualenv.
    """
    shown = " ".join(f"{key}={shlex.quote(value)}" for key, value in (env or {}).items())
    print(f"$ {shown + ' ' if shown else ''}{shlex.join(command)}", flush=True)
    beside = Path(sys.executable).parent / command[0]
    program = [str(beside) if beside.exists() else command[0], *command[1:]]
    subprocess.run(program, check=True, env={**os.environ, **(env or {})})
