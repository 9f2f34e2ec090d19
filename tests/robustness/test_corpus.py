"""Every case of the bad-input corpus through the CLI: exit status, one clear line naming the
file and the problem, no traceback, inputs unchanged, no leftovers in the output or $TMPDIR."""

import re
import tempfile
from pathlib import Path

import pytest

from helpers import run_cli
from robustness.corpus import CASES


def _snapshot(paths):
    return {p: p.read_bytes() for p in paths}


def _leftovers(folder: Path) -> list[str]:
    if folder is None or not folder.exists():
        return []
    return [str(p) for p in folder.rglob("*") if p.name.startswith(".") or p.suffix in (".part", ".tmp")]


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case(name, tmp_path, capsys, monkeypatch, one_thread):
    root = tmp_path / "case"
    root.mkdir()
    temp_dir = tmp_path / "tmpdir"
    temp_dir.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp_dir))
    monkeypatch.setattr(tempfile, "tempdir", str(temp_dir))
    case = CASES[name](root)
    before = _snapshot(case.inputs)

    code, _, err = run_cli(case.args, capsys)

    assert code == case.code, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert all(line.startswith("aural: ") for line in lines), err
    if case.line is not None:
        assert any(re.search(case.line, line) for line in lines), err
    if case.code == 2 and case.args[0] == "run":
        assert len(lines) == 1, err  # a usage error is one line, before anything runs
    assert _snapshot(case.inputs) == before
    for path in case.expect_outputs:
        assert path.is_file(), err
    assert _leftovers(case.output_dir) == []
    assert list(temp_dir.iterdir()) == []


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40
