"""Stems through a pipeline: apply_to one stem, the contract checks, mix_master summing them."""

import pytest
import torch
import yaml

from aural.config import parse_pipeline
from aural.errors import ConfigError, StageError
from aural.pipeline import Pipeline
from aural.signal import Signal
from aural.stages.base import IOContract, Stage
from aural.stems import Stems
from helpers import separation_weights, speech_like


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return str(separation_weights(tmp_path_factory.mktemp("sep")))


def pipeline(text: str, weights: str) -> Pipeline:
    data = yaml.safe_load(text.replace("WEIGHTS", weights))
    return Pipeline.from_spec(parse_pipeline(data, source="p.yaml"))


def errors(text: str) -> list[str]:
    """The validation errors of ``text``, but for missing separation weights (none shipped yet)."""
    from aural.config import _line_map

    with pytest.raises(ConfigError) as info:
        parse_pipeline(yaml.safe_load(text), source="p.yaml", lines=_line_map(yaml.compose(text)))
    return [line for line in str(info.value).splitlines() if "].weights: " not in line]


SEPARATE = "aural: 1\nstages:\n  - stage: separation\n    weights: WEIGHTS\n"


def test_a_pipeline_ending_with_stems_returns_stems_adding_up_to_the_input(weights):
    sig = speech_like(1.5, 44100, num_channels=2)
    out = pipeline(SEPARATE, weights).process(sig)
    assert isinstance(out, Stems) and out.names == ("voice", "background")
    assert out.sample_rate == 44100 and out.num_samples == sig.num_samples
    assert torch.allclose(out.mixture().audio, sig.audio, atol=1e-6)
    assert out["voice"].history[-2]["step"] == "separation"


@pytest.mark.parametrize("stem, other", [("voice", "background"), ("background", "voice")])
def test_apply_to_processes_only_that_stem(weights, stem, other):
    """A gain stage with 5 ms of lookahead latency on one stem: that stem is scaled, the other is
    bit-identical to separation alone and still aligned."""
    sig = speech_like(1.5, 16000, num_channels=2)
    alone = pipeline(SEPARATE, weights).process(sig)
    text = SEPARATE + (f"  - stage: dynamics\n    apply_to: {stem}\n"
                       "    params: {threshold_db: 0, ratio: 1, makeup_db: -6, lookahead_ms: 5}\n")
    out = pipeline(text, weights).process(sig)
    assert torch.equal(out[other].audio, alone[other].audio)
    assert torch.allclose(out[stem].audio, alone[stem].audio * 10 ** (-6 / 20), atol=1e-6)
    assert any(entry.get("apply_to") == stem for entry in out[stem].history)


def test_apply_to_a_learned_stage_at_another_rate_keeps_length_and_rate(weights):
    sig = speech_like(1.0, 48000)
    text = SEPARATE + f"  - stage: separation\n    weights: {weights}\n    apply_to: voice\n"
    with pytest.raises(ConfigError, match="apply_to runs a stage that takes and gives a signal"):
        pipeline(text, weights)
    text = SEPARATE + "  - stage: mix_master\n    apply_to: background\n    params: {target_lufs: -30}\n"
    out = pipeline(text, weights).process(sig)
    assert (out.sample_rate, out.num_samples) == (48000, sig.num_samples)


def test_mix_master_sums_stems_with_their_gains(weights):
    sig = speech_like(2.0, 16000)
    gains = "    params: {stems: {voice: 0, background: -120}, highpass_hz: 0, target_lufs: -30, max_gain_db: 60}\n"
    dropped = pipeline(SEPARATE + "  - stage: mix_master\n" + gains, weights).process(sig)
    voice_only = pipeline(SEPARATE + "  - stage: mix_master\n    apply_to: voice\n"
                          "    params: {highpass_hz: 0, target_lufs: -30, max_gain_db: 60}\n", weights).process(sig)
    assert isinstance(dropped, Signal)
    assert torch.allclose(dropped.audio, voice_only["voice"].audio, atol=1e-4)


@pytest.mark.parametrize("after, stems", [
    ("", ("voice", "background")),
    ("  - stage: dynamics\n    apply_to: voice\n", ("voice", "background")),  # apply_to keeps the stems
    ("  - stage: mix_master\n", None),                                           # mixed: a signal
    ("  - stage: mix_master\n  - stage: dynamics\n", None),
])
def test_the_spec_knows_the_stems_a_pipeline_ends_with_before_building_it(weights, after, stems):
    """``aural run`` (local or Ray) plans a file per stem from the spec, before any weights load."""
    spec = parse_pipeline(yaml.safe_load((SEPARATE + after).replace("WEIGHTS", weights)), source="p.yaml")
    assert spec.output_stems == stems
    assert Pipeline.from_spec(spec).output_stems == stems


def test_a_signal_stage_fed_stems_is_refused_with_its_line():
    text = "aural: 1\nstages:\n  - stage: separation\n  - stage: dynamics\n"
    assert errors(text) == ["p.yaml:4 stages[1].stage: dynamics takes a signal but receives stems (voice, background) "
                            "from stages[0] (separation): add apply_to: STEM to run it on one stem, or mix the stems "
                            "first with mix_master"]


def test_apply_to_a_stem_that_does_not_exist_is_a_validation_error_with_its_line():
    text = "aural: 1\nstages:\n  - stage: separation\n  - stage: dynamics\n    apply_to: vocie\n"
    assert errors(text) == ["p.yaml:5 stages[1].apply_to: no stem 'vocie' (did you mean 'voice'?); "
                            "stages[0] (separation) gives voice, background"]


def test_apply_to_without_stems_and_bad_stem_gains_are_errors():
    text = "aural: 1\nstages:\n  - stage: dynamics\n    apply_to: voice\n"
    assert "p.yaml:4 stages[0].apply_to: no stems to apply dynamics to" in errors(text)[0]
    text = ("aural: 1\nstages:\n  - stage: separation\n  - stage: mix_master\n    params:\n"
            "      stems: {voice: 0, backgroud: -10}\n      duck_db: 6\n      duck_under: vox\n")
    found = errors(text)
    assert found[0].startswith("p.yaml:6 stages[1].params.stems: no stem 'backgroud' (did you mean 'background'?)")
    assert found[1].startswith("p.yaml:8 stages[1].params.duck_under: no stem 'vox'")
    text = "aural: 1\nstages:\n  - stage: mix_master\n    params: {stems: {voice: 0}}\n"
    assert "stem gains need stems in" in errors(text)[0]


def test_the_pipeline_refuses_a_signal_stage_after_stems_in_python_too(weights):
    from aural.config import PipelineSpec, StageSpec
    from aural.stages.dynamics import DynamicsStage
    from aural.stages.separation import SeparationStage

    stages = [SeparationStage(weights=weights), DynamicsStage()]
    spec = PipelineSpec("p", tuple(StageSpec(s.name, s.params) for s in stages))
    with pytest.raises(StageError, match="dynamics takes a signal but receives stems"):
        Pipeline(spec, stages).process(speech_like(0.5, 16000))


def test_long_stems_spool_to_a_file_for_mix_master(weights, tmp_path, monkeypatch):
    """Stems before a two-pass stage go through the spool (a file here) like a signal."""
    import aural.pipeline as module

    monkeypatch.setattr(module, "MEMORY_SPOOL_BYTES", 1000)
    sig = speech_like(3.0, 16000, num_channels=2)
    text = SEPARATE + "  - stage: mix_master\n    params: {stems: {background: -10}, duck_db: 6}\n"
    spooled = pipeline(text, weights).process(sig)
    monkeypatch.setattr(module, "MEMORY_SPOOL_BYTES", 64 << 20)
    in_memory = pipeline(text, weights).process(sig)
    assert torch.allclose(spooled.audio, in_memory.audio, atol=1e-5)


class Peak16kStage(Stage):
    """Two passes at 16 kHz: finds its input's peak, then scales the input to a peak of 0.5."""

    name = "test_peak16k"
    needs_analysis = True
    contract = IOContract(sample_rate=16000)

    analysed: list[int] = []  # samples each instance's analysis pass saw

    def reset(self):
        self.peak = 0.0
        Peak16kStage.analysed.append(0)

    def analyze_block(self, audio):
        self.peak = max(self.peak, float(audio.abs().max()))
        Peak16kStage.analysed[-1] += audio.shape[-1]

    def process_block(self, audio):
        return audio * (0.5 / self.peak)


def test_a_two_pass_stage_at_another_rate_runs_on_one_stem(weights, temporary_stage):
    """Its analysis pass sees the stem through the same resampling as its processing (as the
    deepfilter stage on a separated voice in a 48 kHz pipeline needs); the other stem waits,
    unchanged."""
    temporary_stage(Peak16kStage)
    sig = speech_like(1.5, 48000)
    alone = pipeline(SEPARATE, weights).process(sig)
    Peak16kStage.analysed.clear()
    out = pipeline(SEPARATE + "  - stage: test_peak16k\n    apply_to: voice\n", weights).process(sig)
    assert (out.sample_rate, out.num_samples) == (48000, sig.num_samples)
    assert abs(Peak16kStage.analysed[-1] - sig.num_samples // 3) <= 2  # at 16 kHz, the whole stem
    assert torch.equal(out["background"].audio, alone["background"].audio)
    assert abs(float(alone["voice"].audio.abs().max()) - 0.5) > 0.2
    assert abs(float(out["voice"].audio.abs().max()) - 0.5) < 0.03
