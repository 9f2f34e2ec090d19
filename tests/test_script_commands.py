"""The training scripts end a failed or stopped command with its status and one line."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from script_commands import exit_status, run_or_exit  # noqa: E402


def test_success_returns_quietly(tmp_path, capsys):
    run_or_exit([sys.executable, "-c", "pass"], tmp_path)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("code, status", [("sys.exit(3)", 3),
                                          ("os.kill(os.getpid(), signal.SIGTERM)", 143)])
def test_failure_exits_with_the_childs_status_in_one_line(tmp_path, capsys, code, status):
    with pytest.raises(SystemExit) as stopped:
        run_or_exit([sys.executable, "-c", f"import os, signal, sys; {code}"], tmp_path)
    assert stopped.value.code == status
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"status {status}" in err and "Traceback" not in err


def test_exit_status_of_a_signal_is_128_plus_its_number():
    assert exit_status(-9) == 137 and exit_status(0) == 0 and exit_status(2) == 2
