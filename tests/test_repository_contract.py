"""The promises the repository makes to a new user: two README commands, CI calling the test command, packaging."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    assert block, "README.md has no fenced code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_first_block_is_demo_then_tests():
    commands = readme_commands()
    assert commands == ["scripts/demo", "scripts/test"]
    for command in commands:
        path = ROOT / command
        assert path.is_file() and path.stat().st_mode & 0o111, f"{command} must be an executable script"


def test_ci_runs_the_readme_test_command_and_nothing_else():
    lines = [
        line
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    test_command = readme_commands()[1]
    assert lines[-1] == f"exec {test_command}"
    assert all(line.startswith(("set ", "cd ")) for line in lines[:-1])


def test_test_command_fails_when_no_test_runs(tmp_path):
    """The test command passes pytest's exit status 5 (nothing collected) on, so CI cannot go green on zero tests."""
    result = subprocess.run(
        [str(ROOT / readme_commands()[1]), str(tmp_path), "-q", "-p", "no:cacheprovider"], capture_output=True
    )
    assert result.returncode == 5


def test_packaging_declares_packages_scripts_and_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"vlp": "vlp.cli.main:main", "extract-features": "features.cli:main"}
    assert set(project["tool"]["setuptools"]["packages"]["find"]["include"]) == {"vlp*", "features*", "finetune*"}
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    declared = {re.split(r"[<>=\[ ]", dep, maxsplit=1)[0] for dep in project["project"]["dependencies"]}
    assert declared <= {name.lower() for name in pins}, f"unpinned dependencies: {declared - set(pins)}"
    markers = {m.split(":")[0] for m in project["tool"]["pytest"]["ini_options"]["markers"]}
    assert markers == {"slow", "distributed", "detectron2", "gpu"}


def test_console_scripts_are_installed():
    for script in ("vlp", "extract-features"):
        result = subprocess.run([str(ROOT / ".venv/bin" / script), "--help"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "usage" in result.stdout.lower()
