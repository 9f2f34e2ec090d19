from dataclasses import dataclass

import pytest
import torch

from aural import io, pipeline as pipeline_module
from aural.config import parse_pipeline
from aural.params import param
from aural.pipeline import Pipeline
from aural.stages import IOContract, Stage
import helpers
from helpers import speech_like, tone


@dataclass(frozen=True)
class DelayParams:
    latency: int = param(37, help="delay in samples", min=0)


class DelayStage(helpers.DelayStage):
    """Delays its input: a stage with latency, which the pipeline must remove."""

    name = "test_delay"
    Params = DelayParams


class PeakNormalizeStage(Stage):
    """Two-pass: finds the peak, then scales to 0.5."""

    name = "test_peak_normalize"
    needs_analysis = True

    def reset(self):
        self.peak = 0.0

    def analyze_block(self, audio):
        self.peak = max(self.peak, float(audio.abs().max()))

    def process_block(self, audio):
        return audio * (0.5 / self.peak)


class Mono16kStage(Stage):
    """Runs at 16 kHz, mono only."""

    name = "test_mono16k"
    contract = IOContract(sample_rate=16000, channels=1)

    def process_block(self, audio):
        return audio * 1.0


class Half48kStage(Stage):
    """Halves its input at 48 kHz; keeps the high band of a faster stream (as deepfilter does)."""

    name = "test_half48k"
    contract = IOContract(sample_rate=48000, keep_high_band=True)

    def process_block(self, audio):
        return audio * 0.5


class Keep16kStage(Stage):
    """Passes its input at 16 kHz; keeps the high band of a faster stream (as mel_unet does)."""

    name = "test_keep16k"
    contract = IOContract(sample_rate=16000, keep_high_band=True)

    def process_block(self, audio):
        return audio * 1.0


class FollowerStage(Stage):
    """Any rate, at the stream's where that is below the working rate (as dehum)."""

    name = "test_follower"
    contract = IOContract(follows_stream_rate=True)

    def process_block(self, audio):
        return audio * 1.0


def build(stages, sample_rate=None, **extra):
    data = {"aural": 1, "name": "t", "stages": stages, **extra}
    if sample_rate:
        data["sample_rate"] = sample_rate
    return Pipeline.from_spec(parse_pipeline(data))


@pytest.fixture
def stages(temporary_stage):
    for cls in (DelayStage, PeakNormalizeStage, Mono16kStage, Half48kStage, Keep16kStage, FollowerStage):
        temporary_stage(cls)


def test_latency_is_removed_so_output_stays_aligned(stages):
    sig = speech_like(1.0, 16000, num_channels=2)
    out = build([{"stage": "test_delay"}, {"stage": "test_delay", "params": {"latency": 5000}}]).process(sig)
    assert out.num_samples == sig.num_samples
    assert torch.equal(out.audio, sig.audio)


def test_two_pass_stage_sees_all_input_first(stages):
    sig = speech_like(3.0, 16000)
    out = build([{"stage": "test_delay"}, {"stage": "test_peak_normalize"}]).process(sig)
    assert out.audio.abs().max().item() == pytest.approx(0.5, rel=1e-6)
    assert torch.allclose(out.audio, sig.audio * (0.5 / sig.audio.abs().max()), atol=1e-7)


def test_passes_are_announced_with_their_stages_and_progress_within_them(stages):
    from aural.pipeline import PassInfo

    sig = speech_like(3.0, 16000)
    passes, ticks = [], []
    build([{"stage": "test_delay"}, {"stage": "test_peak_normalize"}]).process(
        sig, on_pass=passes.append, progress=lambda done, total: ticks.append((len(passes), done, total)))
    assert passes == [PassInfo(1, 3, "processing", ("test_delay",), sig.num_samples),
                      PassInfo(2, 3, "analysis", ("test_peak_normalize",), sig.num_samples),
                      PassInfo(3, 3, "processing", ("test_peak_normalize",), sig.num_samples)]
    assert passes[1].describe() == "pass 2 of 3 (analysis for test_peak_normalize)"
    for index, done, total in ticks:  # progress counts every pass; each pass's own share is exact
        within = done - (index - 1) * passes[index - 1].num_samples
        assert 0 < within <= sig.num_samples and total == 3 * sig.num_samples
    assert ticks[-1][1:] == (3 * sig.num_samples, 3 * sig.num_samples)


def test_file_spool_gives_the_same_result(stages, monkeypatch, tmp_path):
    sig = speech_like(3.0, 16000, num_channels=2)
    chain = [{"stage": "test_delay"}, {"stage": "test_peak_normalize"}]
    in_memory = build(chain).process(sig)
    monkeypatch.setattr(pipeline_module, "MEMORY_SPOOL_BYTES", 1000)
    spooled = build(chain).process(sig)
    assert torch.equal(in_memory.audio, spooled.audio)


def test_a_spent_spool_is_removed_before_the_run_ends(stages, monkeypatch, tmp_path):
    """Three segments, file spools: while the last runs, only the spool it reads is left."""
    import tempfile

    monkeypatch.setattr(pipeline_module, "MEMORY_SPOOL_BYTES", 1000)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    sig = speech_like(3.0, 16000)
    chain = [{"stage": "test_delay"}, {"stage": "test_peak_normalize"}, {"stage": "test_peak_normalize"}]
    spools_at_pass = []
    out = build(chain).process(sig, on_pass=lambda info: spools_at_pass.append(
        (info.index, len(list(tmp_path.glob("aural-spool-*"))))))
    assert spools_at_pass == [(1, 0), (2, 1), (3, 1), (4, 1), (5, 1)]
    assert not list(tmp_path.glob("aural-spool-*"))
    assert out.audio.abs().max().item() == pytest.approx(0.5, rel=1e-6)


def test_rate_and_channel_conversion_are_inserted_and_recorded(stages):
    sig = tone(440.0, 1.0, 48000, num_channels=2)
    out = build([{"stage": "test_mono16k"}]).process(sig)
    steps = [entry["step"] for entry in out.history]
    assert steps == ["channels", "resample", "test_mono16k", "resample", "channels", "pipeline"]
    assert (out.sample_rate, out.num_channels, out.num_samples) == (48000, 2, 48000)
    middle = slice(2000, -2000)
    assert torch.allclose(out.audio[0, middle], sig.audio[0, middle], atol=2e-3)


def test_a_stage_above_the_rate_of_the_stream_and_the_output_returns_the_stream_to_its_rate(stages):
    """16 kHz in and out: the 48 kHz stage runs between two resamplings and what follows runs at
    16 kHz (not at 48 kHz with the band above 8 kHz split around it)."""
    sig = tone(440.0, 1.0, 16000)
    pipeline = build([{"stage": "test_half48k"}, {"stage": "test_mono16k"}])
    assert [step.label for step in pipeline.plan(16000, 1)] == [
        "resample 16000->48000 Hz", "test_half48k", "resample 48000->16000 Hz", "test_mono16k"]
    out = pipeline.process(sig)
    assert out.sample_rate == 16000
    middle = slice(2000, -2000)
    assert torch.allclose(out.audio[:, middle], 0.5 * sig.audio[:, middle], atol=2e-3)
    to_48k = build([{"stage": "test_half48k"}, {"stage": "test_mono16k"}], sample_rate=48000)
    assert [step.label for step in to_48k.plan(16000, 1)][:3] == [
        "resample 16000->48000 Hz", "test_half48k", "resample 48000->16000 Hz"]  # the next stage is 16 kHz
    stays = build([{"stage": "test_half48k"}, {"stage": "test_delay"}], sample_rate=48000)
    assert [step.label for step in stays.plan(16000, 1)] == ["resample 16000->48000 Hz", "test_half48k", "test_delay"]


def test_no_band_split_where_the_stream_holds_nothing_above_the_stage(stages):
    """16 kHz input raised to 48 kHz for a 48 kHz stage holds nothing above 8 kHz: a 16 kHz stage
    after it runs on the stream brought down, not as a band split; 48 kHz input is split."""
    pipeline = build([{"stage": "test_half48k"}, {"stage": "test_keep16k"}], sample_rate=48000)
    assert [step.label for step in pipeline.plan(16000, 1)] == [
        "resample 16000->48000 Hz", "test_half48k", "resample 48000->16000 Hz", "test_keep16k",
        "resample 16000->48000 Hz"]
    assert [step.label for step in pipeline.plan(48000, 1)] == [
        "test_half48k", "test_keep16k at 16000 Hz (above 8000 Hz: bypassed)"]
    out = pipeline.process(tone(440.0, 1.0, 16000))
    assert out.sample_rate == 48000
    assert torch.allclose(out.audio[:, 6000:-6000], 0.5 * tone(440.0, 1.0, 48000).audio[:, 6000:-6000], atol=2e-3)


def test_a_stage_that_follows_the_stream_runs_below_the_working_rate(stages):
    pipeline = build([{"stage": "test_follower"}, {"stage": "test_delay"}], sample_rate=48000)
    assert [step.label for step in pipeline.plan(16000, 1)] == [
        "test_follower", "resample 16000->48000 Hz", "test_delay"]
    assert [step.label for step in pipeline.plan(96000, 1)] == [
        "resample 96000->48000 Hz", "test_follower", "test_delay"]


def test_pipeline_rate_and_output_rate(stages):
    sig = tone(440.0, 1.0, 16000)
    assert build([{"stage": "test_delay"}], sample_rate=48000).process(sig).sample_rate == 48000
    out = build([{"stage": "test_delay"}]).process(sig, output_sample_rate=22050)
    assert (out.sample_rate, out.num_samples) == (22050, 22050)


def test_file_run_streams_and_equals_in_memory(stages, tmp_path):
    sig = speech_like(5.0, 16000, num_channels=2)
    src = io.write(sig, tmp_path / "in.wav", subtype="FLOAT")
    chain = [{"stage": "test_delay"}, {"stage": "test_peak_normalize"}, {"stage": "test_delay"}]
    seen = []
    build(chain).run_file(src, tmp_path / "out.wav", subtype="FLOAT",
                          progress=lambda done, total: seen.append((done, total)))
    streamed = io.read(tmp_path / "out.wav")
    assert torch.equal(streamed.audio, build(chain).process(io.read(src)).audio)
    assert seen[-1][0] == seen[-1][1] and seen[-1][1] == 3 * sig.num_samples  # spool pass, analysis, process


def test_disabled_stages_are_skipped(stages):
    spec = parse_pipeline({"aural": 1, "stages": [
        {"stage": "test_delay"}, {"stage": "test_peak_normalize", "enabled": False}]})
    assert [s.stage for s in spec.stages] == ["test_delay"]


class TwoPassStage(Stage):
    """Asks for a second analysis pass and checks it saw the same input twice."""

    name = "test_two_pass"
    needs_analysis = True

    def reset(self):
        self.sums = [0.0]

    def analyze_block(self, audio):
        self.sums[-1] += float(audio.sum())

    def finish_analysis(self):
        if len(self.sums) < 2:
            self.sums.append(0.0)
            return True
        return False

    def process_block(self, audio):
        assert self.sums[0] == pytest.approx(self.sums[1])
        return audio * 0.5


def test_a_stage_may_ask_for_another_analysis_pass(temporary_stage, tmp_path):
    temporary_stage(TwoPassStage)
    temporary_stage(DelayStage)
    sig = speech_like(2.0, 16000)
    chain = [{"stage": "test_delay"}, {"stage": "test_two_pass"}]
    out = build(chain).process(sig)
    assert torch.allclose(out.audio, sig.audio * 0.5)
    src = io.write(sig, tmp_path / "in.wav", subtype="FLOAT")
    seen = []
    build(chain).run_file(src, tmp_path / "out.wav", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (4 * sig.num_samples, 4 * sig.num_samples)  # spool, 2 analyses, process


class PeakNormalize16kStage(PeakNormalizeStage):
    name = "test_peak_normalize_16k"
    contract = IOContract(sample_rate=16000)


def test_a_block_stream_analyses_its_stage_input_through_the_conversions_before_it(stages, temporary_stage):
    from aural.errors import StageError

    temporary_stage(PeakNormalize16kStage)
    sig = speech_like(1.0, 48000)
    stream = build([{"stage": "test_peak_normalize_16k"}]).block_stream(48000, 1)
    for start in range(0, sig.num_samples, 4093):
        stream.analyze(sig.audio[:, start:start + 4093])
    stream.finish_analysis()
    out = torch.cat([stream(sig.audio[:, start:start + 4093]) for start in range(0, sig.num_samples, 4093)], dim=1)
    assert float(out.abs().max()) == pytest.approx(0.5, abs=0.05)  # the peak it saw was the 16 kHz input's

    twice = build([{"stage": "test_peak_normalize"}, {"stage": "test_peak_normalize"}]).block_stream(48000, 1)
    with pytest.raises(StageError, match="a block stream analyses one stage's input, not several"):
        twice.analyze(sig.audio)
