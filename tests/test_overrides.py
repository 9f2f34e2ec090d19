"""``--set STAGE.PARAM=VALUE``: parsed, resolved to one stage entry, validated like the YAML."""

import pytest

from aural.config import load_pipeline_spec
from aural.errors import ConfigError, UsageError
from aural.overrides import parse_override

TWICE = """\
aural: 1
stages:
  - stage: dynamics
    params: {threshold_db: -24.0, ratio: 2.0}
  - stage: mix_master
    params: {preset: podcast}
  - stage: dynamics
"""


@pytest.fixture
def twice(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(TWICE)
    return path


@pytest.mark.parametrize("text, expected", [
    ("mel_unet.strength=0.7", ("mel_unet", None, "strength", 0.7)),
    ("dynamics[2].ratio=4", ("dynamics", 2, "ratio", 4)),
    ("mix_master.preset=podcast", ("mix_master", None, "preset", "podcast")),
    ("dynamics.gate_threshold_db=null", ("dynamics", None, "gate_threshold_db", None)),
    ("x.flag=true", ("x", None, "flag", True)),
    ("x.text=a=b", ("x", None, "text", "a=b")),
])
def test_parse(text, expected):
    override = parse_override(text)
    assert (override.stage, override.index, override.param, override.value) == expected


@pytest.mark.parametrize("text", ["strength=0.7", "mel_unet.strength", "mel_unet.=1", "../x.y=1", "a.b=[1, 2]",
                                  "a.b={c: 1}", "a[x].b=1"])
def test_bad_syntax_is_a_usage_error(text):
    with pytest.raises(UsageError, match="--set"):
        parse_override(text)


def test_overrides_change_only_the_named_entry(twice):
    spec = load_pipeline_spec(twice, ["dynamics[2].ratio=6", "mix_master.target_lufs=-14"])
    assert [s.params.ratio for s in spec.stages if s.stage == "dynamics"] == [2.0, 6.0]
    assert spec.stages[1].params.target_lufs == -14.0
    assert load_pipeline_spec(twice).stages[2].params.ratio != 6.0  # the file is untouched


@pytest.mark.parametrize("text, message", [
    ("dynamics.ratio=3", "dynamics appears 2 times; name one by its position: dynamics[0].ratio or dynamics[2].ratio"),
    ("dynamics[1].ratio=3",
     "stages[1] is not a dynamics stage; the pipeline has dynamics[0], mix_master[1], dynamics[2]"),
    ("mel_unet.strength=0.5", "no stage 'mel_unet' in the pipeline"),
])
def test_ambiguous_or_missing_stages_are_usage_errors(twice, text, message):
    with pytest.raises(UsageError) as info:
        load_pipeline_spec(twice, [text])
    assert str(info.value).startswith(f"--set {text}: {message}")


def test_bad_values_are_checked_like_the_yaml_and_name_the_set(twice):
    with pytest.raises(ConfigError) as info:
        load_pipeline_spec(twice, ["dynamics[0].ratio=loud", "mix_master.volume=3", "dynamics[2].ratio=0.5"])
    first, second, third = info.value.messages
    assert first == "--set dynamics[0].ratio=loud: stages[0].params.ratio: expected a number in 1..1000, got 'loud'"
    assert second.startswith("--set mix_master.volume=3: stages[1].params.volume: unknown parameter; known: ")
    assert third == "--set dynamics[2].ratio=0.5: stages[2].params.ratio: expected a number in 1..1000, got 0.5"


def test_one_key_of_a_mapping_param_changes_and_the_rest_stays(tmp_path):
    assert parse_override("mix_master.stems.background=-30").key == "background"
    assert parse_override("mel_unet.strength=0.7").key is None
    spec = load_pipeline_spec("voice_isolation", ["mix_master.stems.background=-30"])
    assert spec.stages[-1].params.stems == {"voice": 0.0, "background": -30.0}
    path = tmp_path / "no_stems.yaml"
    path.write_text("aural: 1\nstages:\n  - stage: separation\n  - stage: mix_master\n")
    assert load_pipeline_spec(path, ["mix_master.stems.background=-12"]).stages[1].params.stems == {"background": -12.0}


@pytest.mark.parametrize("text, error, message", [
    ("mix_master.stems.background=loud", ConfigError,
     "--set mix_master.stems.background=loud: stages[5].params.stems: background: expected a number in -120..24"),
    ("mix_master.stems.drums=-3", ConfigError, "--set mix_master.stems.drums=-3: stages[5].params.stems: no stem 'drums'"),
    ("separation.strength.x=1", UsageError, "--set separation.strength.x=1: stages[2].params.strength is not a mapping"),
])
def test_a_bad_key_of_a_mapping_param_names_the_set(text, error, message):
    with pytest.raises(error) as info:
        load_pipeline_spec("voice_isolation", [text])
    assert str(info.value).startswith(message)


def test_weights_sets_the_entrys_weights_and_is_validated_like_the_yaml():
    spec = load_pipeline_spec("bandwidth_extend", ["freq_expansion.weights=music"])
    assert spec.stages[0].weights == "music"
    assert load_pipeline_spec("bandwidth_extend").stages[0].weights == "default"
    with pytest.raises(ConfigError, match=r"^--set freq_expansion.weights=nosuch: stages\[0\]\.weights: "
                                          r".*no weights preset 'nosuch'"):
        load_pipeline_spec("bandwidth_extend", ["freq_expansion.weights=nosuch"])
    with pytest.raises(ConfigError, match=r"--set mix_master.weights=x: stages\[1\]\.weights: "
                                          r"stage mix_master is a DSP stage and takes no weights"):
        load_pipeline_spec("podcast_master", ["mix_master.weights=x"])
