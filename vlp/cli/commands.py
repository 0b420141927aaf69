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

    `vlp` commands run in this process (`run_vlp_in_process`); any other program is looked up beside this Python
    first, so the demo works from an unactivated virtualenv.
    """
    shown = " ".join(f"{key}={shlex.quote(value)}" for key, value in (env or {}).items())
    print(f"$ {shown + ' ' if shown else ''}{shlex.join(command)}", flush=True)
    if command[0] == "vlp":
        run_vlp_in_process(command[1:], env or {})
        return
    beside = Path(sys.executable).parent / command[0]
    program = [str(beside) if beside.exists() else command[0], *command[1:]]
    subprocess.run(program, check=True, env={**os.environ, **(env or {})})


def run_vlp_in_process(arguments: Sequence[str], env: dict[str, str]) -> None:
    """`vlp ARGUMENTS` with the variables `env`, as its console script runs it but in this process: a new process
    would spend 7-9 s on 2 cores importing torch, Lightning and transformers again, and the demo runs about twenty of
    these. The process environment is restored afterwards (Lightning's `seed_everything` also writes its seed there).

    Raises:
        subprocess.CalledProcessError: the command's exit status is not 0.
    """
    from vlp.cli.main import main

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        status = main(list(arguments))
    except SystemExit as exit_request:  # argument errors and --help exit as they would from the console script
        code = exit_request.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if status:
        raise subprocess.CalledProcessError(status, ["vlp", *arguments])
