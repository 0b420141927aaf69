"""Dependencies point one way: `features/` and `finetune/` import `vlp`, `vlp` imports neither (nor detectron2), and
finetuning builds on the shared training layer (`vlp.train`), never on pretraining's internals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> dict[str, set[str]]:
    """Every module that a file under `package/` imports, by file (relative imports resolved to absolute names)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                names.add(node.module)
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in imported_modules(package).items()
        for name in sorted(names)
        if name in forbidden or name.startswith(tuple(f"{prefix}." for prefix in forbidden))
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("finetune", ("vlp.pretrain",)),
        ("vlp", ("features", "finetune", "detectron2")),
        ("vlp/train", ("vlp.pretrain", "finetune")),
        ("features", ("finetune",)),
    ],
)
def test_dependencies_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    assert offenders(package, forbidden) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "finetune").mkdir()
    (tmp_path / "finetune" / "task.py").write_text("from vlp.pretrain.compute import compute_objectives\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert offenders("finetune", ("vlp.pretrain",)) == [
        "finetune/task.py imports vlp.pretrain.compute",
        "finetune/task.py imports vlp.pretrain.compute.compute_objectives",
    ]
