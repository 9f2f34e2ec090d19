"""``aural run`` output rules under hostile conditions: an output folder inside the input, a
file written meanwhile by another run, output names in formats aural cannot write."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from aural.stages import IOContract, Stage
from helpers import run_cli, speech_like, write_audio

PIPELINE = "aural: 1\nstages:\n  - stage: dynamics\n    params: {threshold_db: -24.0, ratio: 2.0}\n"


@pytest.fixture
def pipeline(tmp_path):
    path = tmp_path / "quick.yaml"
    path.write_text(PIPELINE)
    return str(path)


def one_line_error(args, capsys, expected_code):
    code, _, err = run_cli(args, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == expected_code, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines


def test_an_output_folder_inside_the_input_is_not_reprocessed(tmp_path, pipeline, capsys):
    src = tmp_path / "in"
    write_audio(src / "a.wav", speech_like(1.0, 16000))
    out = src / "out"
    code, _, err = run_cli(["run", pipeline, str(src), "-o", str(out), "-q"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["run", pipeline, str(src), "-o", str(out), "-q", "--overwrite"], capsys)
    assert code == 0, err
    assert sorted(p.relative_to(src).as_posix() for p in src.rglob("*.wav")) == ["a.wav", "out/a.wav"]


@dataclass(frozen=True)
class _NoParams:
    pass


class _OtherRunStage(Stage):
    """Writes the run's output file while the run is still processing, as a second aural run
    writing into the same folder would."""

    name = "other_run_writes"
    Params = _NoParams
    contract = IOContract()
    target: Path | None = None

    def process_block(self, audio):
        if self.target is not None and not self.target.exists():
            self.target.write_bytes(b"the other run's output")
        return audio


def test_a_file_written_meanwhile_by_another_run_is_not_replaced(tmp_path, capsys, temporary_stage, monkeypatch):
    temporary_stage(_OtherRunStage)
    yaml_path = tmp_path / "race.yaml"
    yaml_path.write_text("aural: 1\nstages:\n  - stage: other_run_writes\n")
    src = tmp_path / "in"
    write_audio(src / "a.wav", speech_like(1.0, 16000))
    write_audio(src / "b.wav", speech_like(1.0, 16000, seed=1))
    out = tmp_path / "out"
    monkeypatch.setattr(_OtherRunStage, "target", out / "a.wav")
    code, _, err = run_cli(["run", str(yaml_path), str(src), "-o", str(out), "-q"], capsys)
    assert code == 1
    assert f"aural: {out / 'a.wav'}: exists (written meanwhile by another process); use --overwrite" in err
    assert "1 of 2 files written" in err
    assert (out / "a.wav").read_bytes() == b"the other run's output"
    assert sorted(p.name for p in out.iterdir()) == ["a.wav", "b.wav"]


@pytest.mark.parametrize("name", ["out.mp3", "out.ogg", "out.m4a", "out.aiff"])
def test_an_output_in_a_format_aural_cannot_write_is_a_usage_error(tmp_path, pipeline, capsys, name):
    src = write_audio(tmp_path / "in.wav", speech_like(0.5, 16000))
    lines = one_line_error(["run", pipeline, str(src), "-o", str(tmp_path / name)], capsys, 2)
    assert lines == [f"aural: {tmp_path / name}: aural cannot write {Path(name).suffix} files; "
                     "use .wav or .flac, or name an output folder"]
    assert not (tmp_path / name).exists()


def test_a_folder_named_like_a_file_gets_a_true_message(tmp_path, pipeline, capsys):
    write_audio(tmp_path / "take.wav" / "a.wav", speech_like(0.5, 16000))
    lines = one_line_error(["run", pipeline, str(tmp_path / "take.wav"), "-o", str(tmp_path / "o.wav")], capsys, 2)
    assert lines == [f"aural: {tmp_path / 'o.wav'}: {tmp_path / 'take.wav'} is a folder, so the output "
                     "must be a folder, not a .wav file"]
