"""`vlp convert` on bad input: one line naming the file or key at fault, exit status 1, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.convert.official import oscar_config_json, save_oscar, save_uniter
from tests.model.factories import randomize_, tiny
from vlp.cli.main import main
from vlp.convert.reference import OscarReference, UniterReference

ROOT = Path(__file__).resolve().parents[2]


def convert_error(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    """Runs `vlp convert ARGV`, checks it failed with one line on stderr, and returns that line."""
    assert main(["convert", *map(str, argv)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vlp convert: error: "), lines
    assert "weights_only=False" not in lines[0] and "Traceback" not in lines[0]
    return lines[0]


@pytest.fixture
def oscar(tmp_path: Path) -> Path:
    save_oscar(tmp_path / "oscar", randomize_(OscarReference(tiny(), mlm=True)), oscar_config_json(tiny()))
    return tmp_path / "oscar"


def test_missing_and_empty_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "out"
    assert f"{tmp_path / 'nowhere'} does not exist" in convert_error(
        capsys, "--from", "oscar", "--to", "vlp", tmp_path / "nowhere", out
    )
    (tmp_path / "empty").mkdir()
    for source in ("oscar", "hf-bert", "vlp"):
        line = convert_error(
            capsys, "--from", source, "--to", "vlp" if source != "vlp" else "oscar", tmp_path / "empty", out
        )
        assert f"{tmp_path / 'empty' / 'config.json'} does not exist" in line
    (tmp_path / "empty" / "config.json").write_text("{}")
    line = convert_error(capsys, "--from", "oscar", "--to", "vlp", tmp_path / "empty", out)
    assert f"no weights in {tmp_path / 'empty'}: looked for model.safetensors" in line
    assert not out.exists()


def test_bad_json_names_the_file_and_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"hidden_size": 32\n')
    line = convert_error(capsys, "--from", "oscar", "--to", "vlp", tmp_path / "bad", tmp_path / "out")
    assert f"{tmp_path / 'bad' / 'config.json'}: not valid JSON: Expecting ',' delimiter: line 2" in line
    (tmp_path / "bad" / "config.json").write_bytes(b'{"a": "\xff"}')
    assert "not UTF-8" in convert_error(capsys, "--from", "oscar", "--to", "vlp", tmp_path / "bad", tmp_path / "o")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a checkpoint\n", "not a PyTorch checkpoint"),
        (bytes(range(256)) * 4, "not a PyTorch checkpoint"),
        (None, "holds Python objects besides tensors"),  # a pickle of arbitrary objects is never unpickled
    ],
)
def test_files_that_are_not_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str], content, expected):
    weights, config_path = save_uniter(tmp_path, UniterReference(tiny(region_style="uniter")), tiny())
    if content is None:
        torch.save({"weights": object()}, weights)
    else:
        weights.write_bytes(content)
    line = convert_error(capsys, "--from", "uniter", "--to", "vlp", weights, tmp_path / "out", "--config", config_path)
    assert f"{weights}: {expected}" in line


def test_a_tensor_of_the_wrong_shape_names_the_key_and_both_shapes(
    oscar: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    state = torch.load(oscar / "pytorch_model.bin", weights_only=True)
    state["bert.encoder.layer.1.intermediate.dense.weight"] = torch.zeros(40, 32)
    torch.save(state, oscar / "pytorch_model.bin")
    line = convert_error(capsys, "--from", "oscar", "--to", "vlp", oscar, tmp_path / "out")
    assert f"{oscar}: tensor shapes differ: model.encoder.layers.1.ffn_in.weight is [40, 32] there but [48, 32]" in line


def test_uniter_given_oscar_weights(oscar: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    line = convert_error(
        capsys,
        "--from",
        "uniter",
        "--to",
        "vlp",
        oscar / "pytorch_model.bin",
        tmp_path / "out",
        "--config",
        oscar / "config.json",
    )
    assert "not a UNITER checkpoint" in line and "use --from oscar" in line


def test_a_broken_tie_found_while_reading_is_one_line_too(oscar: Path, tmp_path: Path, capsys):
    state = torch.load(oscar / "pytorch_model.bin", weights_only=True)
    state["cls.predictions.decoder.weight"] = state["cls.predictions.decoder.weight"] + 1
    torch.save(state, oscar / "pytorch_model.bin")
    line = convert_error(capsys, "--from", "oscar", "--to", "vlp", oscar, tmp_path / "out")
    assert "cls.predictions.decoder.weight should be tied to bert.embeddings.word_embeddings.weight" in line


def test_help_answers_without_importing_torch_or_transformers():
    program = (
        "import sys\n"
        "from vlp.cli.main import main\n"
        "try:\n"
        "    main(['convert', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(name for name in ('torch', 'transformers') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, check=True)
    assert "usage: vlp convert" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"
