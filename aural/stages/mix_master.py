"""The ``mix_master`` stage: stems mixed with gains and ducking, clean-up EQ, de-essing,
loudness normalisation, true-peak limiting."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aural.errors import StageError
from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, Stage

if TYPE_CHECKING:  # DSP loads in configure(): importing a stage module stays cheap
    import numpy as np
    import torch

# preset -> (target_lufs, true_peak_db)
PRESETS: dict[str, tuple[float, float]] = {
    "podcast": (-16.0, -1.0),    # Apple Podcasts / common spoken-word practice
    "streaming": (-14.0, -1.0),  # Spotify, YouTube, Tidal playback reference
    "broadcast": (-23.0, -1.0),  # EBU R128
}
# A mono file plays on both earpieces, 3 dB louder than its BS.1770 reading (which counts one
# channel): the podcast convention masters mono 3 LU lower, -19 LUFS, to sound as loud as stereo at -16.
MONO_OFFSET_LU: dict[str, float] = {"podcast": -3.0}
PRESENCE_Q = 1.0
NYQUIST_FRACTION = 0.95     # EQ bands at or above this fraction of Nyquist are left out
LIMITER_MARGIN_DB = 0.15    # headroom kept under true_peak_db for other meters' readings
LINEAR_HIGHPASS_PERIODS = 8.0  # length of the linear-phase high-pass, in periods of its corner
MIN_STEM_GAIN_DB, MAX_STEM_GAIN_DB = -120.0, 24.0  # the range of the stems param
DUCK_RANGE_DB = 6.0         # ducking goes from none to full over this range above duck_threshold_db
DUCK_RMS_MS = 10.0          # level detector of the ducking key (one-pole mean square)


@dataclass(frozen=True)
class MixMasterParams:
    preset: str = param("podcast", choices=tuple(PRESETS),
                        help="delivery target: podcast (-16 LUFS stereo, -19 LUFS mono, -1 dBTP), streaming "
                             "(-14 LUFS, -1 dBTP), broadcast (-23 LUFS, -1 dBTP, EBU R128)")
    target_lufs: float | None = param(None, unit="LUFS", min=-60.0, max=0.0,
                                      help="integrated loudness (ITU-R BS.1770) to normalise to "
                                           "(null = the preset's)")
    true_peak_db: float | None = param(None, unit="dBTP", min=-20.0, max=0.0,
                                       help="true-peak ceiling of the limiter, measured 8x "
                                            "oversampled (null = the preset's)")
    highpass_hz: float = param(80.0, unit="Hz", min=0.0, max=1000.0,
                               help="rumble high-pass corner, 12 dB/octave (0 = off)")
    highpass_q: float = param(1.0 / math.sqrt(2.0), min=0.3, max=2.0,
                              help="the high-pass's quality factor: 0.7071 is Butterworth (-3 dB at the corner), "
                                   "0.5 a softer knee (-6 dB at the corner, a little more taken above it)")
    highpass_phase: str = param("minimum", choices=("minimum", "linear"),
                                help="minimum: a biquad (no latency; it shifts the phase of the low band, "
                                     "most near the corner); linear: an FIR with the same magnitude and no "
                                     "phase shift (eight periods of the corner long, half of it latency), so "
                                     "a voice's low harmonics keep their timing")
    highpass_when: str = param("always", choices=("always", "rumble"),
                               help="always: the high-pass filters every input; rumble: only an input whose band "
                                    "under highpass_hz holds noise (its level in the pauses within "
                                    "rumble_threshold_db of the speech band's level in speech), so a clean "
                                    "voice keeps its low end")
    rumble_threshold_db: float = param(-40.0, unit="dB", min=-80.0, max=0.0,
                                       help="with highpass_when: rumble, the low band's level in the pauses, "
                                            "relative to the speech band's in speech, from which it counts as rumble")
    low_shelf_db: float = param(0.0, unit="dB", min=-18.0, max=18.0,
                                help="low-shelf gain (warmth / mud); 0 = off")
    low_shelf_hz: float = param(150.0, unit="Hz", min=20.0, max=2000.0,
                                help="low-shelf corner (half the gain here)")
    presence_db: float = param(0.0, unit="dB", min=-18.0, max=18.0,
                               help="presence bell gain (intelligibility); 0 = off")
    presence_hz: float = param(3000.0, unit="Hz", min=500.0, max=12000.0,
                               help="presence bell centre (Q 1)")
    high_shelf_db: float = param(0.0, unit="dB", min=-18.0, max=18.0,
                                 help="high-shelf gain (air); 0 = off")
    high_shelf_hz: float = param(10000.0, unit="Hz", min=1000.0, max=20000.0,
                                 help="high-shelf corner (half the gain here)")
    deess_db: float = param(0.0, unit="dB", min=0.0, max=24.0,
                            help="de-esser: most reduction of the sibilance band (0 = off)")
    deess_hz: float = param(6000.0, unit="Hz", min=2000.0, max=16000.0,
                            help="centre of the sibilance band the de-esser cuts "
                                 "(a bell about two octaves wide)")
    deess_threshold_db: float = param(-10.0, unit="dB", min=-40.0, max=0.0,
                                      help="de-esser acts where the band's power relative to the "
                                           "full band exceeds this (sibilants: about -1 dB, "
                                           "voiced speech: -15 to -30 dB)")
    max_gain_db: float = param(40.0, unit="dB", min=0.0, max=60.0,
                               help="most gain the stage may apply (keeps near-silent files "
                                    "from being raised to noise)")
    max_limiting_db: float = param(12.0, unit="dB", min=0.0, max=24.0,
                                   help="most extra gain pushed into the limiter to reach "
                                        "target_lufs when peaks pass the ceiling; beyond it "
                                        "the output stays below target")
    limiter_lookahead_ms: float = param(2.0, unit="ms", min=0.5, max=20.0,
                                        help="limiter lookahead: gain ramps over this long "
                                             "before a peak (adds latency)")
    limiter_release_ms: float = param(80.0, unit="ms", min=1.0, max=2000.0,
                                      help="limiter release time constant")
    stems: dict[str, float] | None = param(None, unit="dB", min=-120.0, max=24.0,
                                           help="with stems in: the gain of each stem before they are "
                                                "summed, e.g. {voice: 0, background: -15} (a stem left "
                                                "out: 0 dB; null: every stem at 0 dB)")
    stems_relative_to: str | None = param(None, help="with stems in: the stem whose loudness the other "
                                                     "stems' gains count from (BS.1770, whole file): "
                                                     "background: -18 puts the background 18 dB under it; "
                                                     "null: the gains apply to the stems as they are")
    duck_db: float = param(0.0, unit="dB", min=0.0, max=60.0,
                           help="with stems in: most reduction of every other stem while duck_under "
                                "is active (0 = off)")
    duck_under: str = param("voice", help="the stem the others duck under")
    duck_threshold_db: float = param(-40.0, unit="dBFS", min=-90.0, max=0.0,
                                     help="ducking starts when duck_under's level (10 ms RMS) passes this "
                                          "and is full 6 dB above it")
    duck_attack_ms: float = param(20.0, unit="ms", min=0.0, max=2000.0,
                                  help="how fast the others go down when duck_under starts")
    duck_release_ms: float = param(400.0, unit="ms", min=1.0, max=10000.0,
                                   help="how fast they come back when it stops")

    def target(self, num_channels: int = 2) -> tuple[float, float]:
        """``(target_lufs, true_peak_db)`` for audio of ``num_channels``, the preset filled in
        (a preset's mono target is its ``MONO_OFFSET_LU`` below its stereo one)."""
        lufs, peak = PRESETS[self.preset]
        if num_channels == 1:
            lufs += MONO_OFFSET_LU.get(self.preset, 0.0)
        return (lufs if self.target_lufs is None else self.target_lufs,
                peak if self.true_peak_db is None else self.true_peak_db)


class _StemMixer:
    """Stems ``(stems, channels, n)`` -> their sum, each at its gain, the others ducked under
    one key stem (stereo linked: the key's level is its channels' mean power)."""

    def __init__(self, params: MixMasterParams, stems: tuple[str, ...], sample_rate: int):
        import numpy as np

        from aural.dsp.dynamics import time_coefficient

        self.stems = stems
        self._plain_gains_db = {name: (params.stems or {}).get(name, 0.0) for name in stems}
        self.set_gains_db(self._plain_gains_db)
        self.duck_db = params.duck_db
        self.key = stems.index(params.duck_under) if params.duck_db > 0 and params.duck_under in stems else None
        self.threshold_db = params.duck_threshold_db
        self._rms = time_coefficient(DUCK_RMS_MS, sample_rate)
        self._attack = time_coefficient(params.duck_attack_ms, sample_rate)
        self._release = time_coefficient(params.duck_release_ms, sample_rate)
        self.reset()

    def set_gains_db(self, gains_db: dict[str, float]) -> None:
        """Each stem's gain in dB (``reset_gains`` goes back to the params')."""
        import numpy as np

        self.gains_db = dict(gains_db)
        self.gains = np.array([10.0 ** (gains_db[name] / 20.0) for name in self.stems])[:, None, None]

    def reset_gains(self) -> None:
        self.set_gains_db(self._plain_gains_db)

    def reset(self) -> None:
        import numpy as np

        self._power = np.zeros(1)
        self._gain_db = np.zeros(1)

    def duck_gain_db(self, key: np.ndarray) -> np.ndarray:
        """Ducking gain in dB (<= 0) per sample from the key stem ``(channels, n)``."""
        import numpy as np

        from aural.dsp.dynamics import one_pole, smooth_branching

        power = one_pole(np.mean(key * key, axis=0, keepdims=True), self._power, self._rms)
        level_db = 10.0 * np.log10(np.maximum(power, 1e-12))
        depth = np.clip((level_db - self.threshold_db) / DUCK_RANGE_DB, 0.0, 1.0)
        return smooth_branching(-self.duck_db * depth, self._gain_db, self._attack, self._release)[0]

    def mix(self, stems: np.ndarray) -> np.ndarray:
        scaled = stems * self.gains
        if self.key is not None:
            duck = 10.0 ** (self.duck_gain_db(stems[self.key]) / 20.0)
            others = [i for i in range(len(stems)) if i != self.key]
            scaled[others] *= duck
        return scaled.sum(axis=0)


class _PreGainChain:
    """High-pass, EQ and de-esser: everything before the loudness gain.

    ``linear_taps`` (:func:`_linear_highpass_taps`, designed once per stage) make the high-pass an
    FIR that delays the chain by :attr:`delay_samples` (the same delay where the rumble check leaves
    the high-pass out); ``aligned`` (for the analysis pass) drops that many samples at the start and
    :meth:`finish` returns the tail, so the output lines up with the input.
    """

    def __init__(self, params: MixMasterParams, sample_rate: int, num_channels: int, *, with_highpass: bool = True,
                 linear_taps: np.ndarray | None = None, aligned: bool = False):
        import numpy as np

        from aural.dsp.delay import SampleDelay
        from aural.dsp.dynamics import Deesser
        from aural.dsp.filters import FirFilter, SosFilter, high_shelf, highpass, low_shelf, peaking

        limit = NYQUIST_FRACTION * sample_rate / 2
        sections = []
        self.has_highpass = with_highpass and _highpass_fits(params, sample_rate)
        self.delay_samples = 0 if linear_taps is None else (linear_taps.size - 1) // 2
        self.linear_highpass = None
        if linear_taps is not None:
            self.linear_highpass = (FirFilter(linear_taps, num_channels) if self.has_highpass
                                    else SampleDelay(self.delay_samples, num_channels))
        elif self.has_highpass:
            sections.append(highpass(params.highpass_hz, sample_rate, q=params.highpass_q))
        if params.low_shelf_db and params.low_shelf_hz < limit:
            sections.append(low_shelf(params.low_shelf_hz, params.low_shelf_db, sample_rate))
        if params.presence_db and params.presence_hz < limit:
            sections.append(peaking(params.presence_hz, params.presence_db, sample_rate, q=PRESENCE_Q))
        if params.high_shelf_db and params.high_shelf_hz < limit:
            sections.append(high_shelf(params.high_shelf_hz, params.high_shelf_db, sample_rate))
        self.eq = SosFilter(np.concatenate(sections) if sections else np.zeros((0, 6)), num_channels)
        self.deesser = None
        if params.deess_db > 0 and params.deess_hz < limit:
            self.deesser = Deesser(sample_rate, num_channels, params.deess_hz, params.deess_db,
                                   params.deess_threshold_db)
        self.aligned = aligned
        self.num_channels = num_channels
        self.reset()

    def reset(self) -> None:
        self.eq.reset()
        if self.deesser is not None:
            self.deesser.reset()
        if self.linear_highpass is not None:
            self.linear_highpass.reset()
        self._to_skip = self.delay_samples if self.aligned else 0

    def process(self, audio: np.ndarray) -> np.ndarray:
        if self.linear_highpass is not None:
            audio = self.linear_highpass.process(audio)
            if self._to_skip:
                skipped = min(self._to_skip, audio.shape[-1])
                audio, self._to_skip = audio[:, skipped:], self._to_skip - skipped
        out = self.eq.process(audio)
        return self.deesser.process(out) if self.deesser is not None else out

    def finish(self) -> np.ndarray:
        """What the linear-phase high-pass still holds (empty without one)."""
        import numpy as np

        if self.linear_highpass is None:
            return np.zeros((self.num_channels, 0))
        return self.process(np.zeros((self.num_channels, self.delay_samples)))


@register_stage
class MixMasterStage(Stage):
    """Final mix and master for spoken word: clean-up EQ, de-essing, loudness, true peak.

    With stems in (after ``separation``): each stem at its gain (``stems: {voice: 0,
    background: -15}``), every stem but ``duck_under`` ducked by up to ``duck_db`` while
    ``duck_under`` is active (its 10 ms RMS level from ``duck_threshold_db`` to 6 dB above it;
    ``duck_attack_ms`` down, ``duck_release_ms`` back), then summed; the sum is mastered.
    With ``stems_relative_to`` (e.g. ``voice``) a first analysis pass measures each stem's
    integrated loudness and the gains count from that stem's: ``background: -18`` puts the
    background 18 LU under the voice, wherever it sat in the recording.
    Chain: rumble high-pass (highpass_hz, 12 dB/octave; with ``highpass_when: rumble`` only
    where an analysis pass finds noise under the corner, :mod:`aural.dsp.rumble`; with
    ``highpass_phase: linear`` an FIR of the same magnitude without phase shift) -> low
    shelf, presence bell, high shelf -> split-band de-esser (deess_db > 0: the band around
    deess_hz is turned down, by up to deess_db, while it dominates; untouched otherwise) ->
    gain -> true-peak limiter.
    Two passes (three with the rumble high-pass). The first runs the chain up to the gain and measures its integrated
    loudness (ITU-R BS.1770-4: K-weighting, 400 ms blocks, -70 LUFS absolute and -10 LU
    relative gates; clips under 0.4 s: ungated mean). The second runs the chain again and
    applies the gain that puts the *limited* output at target_lufs: when peaks would pass
    the ceiling the limiter takes loudness away, so the gain is raised (by at most
    max_limiting_db, found on a model of the limiter) until the result lands on target.
    The gain never exceeds max_gain_db; silence gets none.
    The limiter looks ahead limiter_lookahead_ms and holds the 8x-oversampled true peak at
    true_peak_db minus a 0.15 dB safety margin, with one gain for all channels.
    A preset sets target_lufs and true_peak_db unless they are given; ``podcast`` masters
    mono 3 LU lower than stereo (-19 against -16 LUFS: a mono file plays on both earpieces).
    EQ bands at or above 95 % of Nyquist are left out.
    """

    name = "mix_master"
    summary = "Stems mixed (gains, ducking), EQ, de-esser, loudness normalisation (BS.1770), true-peak limiting."
    Params = MixMasterParams
    contract = IOContract(input="any")
    needs_analysis = True

    @classmethod
    def check_stems(cls, params: MixMasterParams, stems: tuple[str, ...] | None) -> list[tuple[str, str]]:
        from aural.registry import close_matches

        problems = []
        if stems is None:
            if params.stems:
                problems.append(("stems", "stem gains need stems in (after a stage that outputs stems, "
                                          "e.g. separation); this stage gets a signal"))
            if params.duck_db > 0:
                problems.append(("duck_db", "ducking needs stems in (after a stage that outputs stems); "
                                            "this stage gets a signal"))
            if params.stems_relative_to is not None:
                problems.append(("stems_relative_to", "relative stem gains need stems in (after a stage "
                                                      "that outputs stems); this stage gets a signal"))
            return problems
        for name in params.stems or {}:
            if name not in stems:
                problems.append(("stems", f"no stem {name!r}{close_matches(name, stems)}; the stems here are "
                                          f"{', '.join(stems)}"))
        relative = params.stems_relative_to
        if relative is not None and relative not in stems:
            problems.append(("stems_relative_to", f"no stem {relative!r}{close_matches(relative, stems)}; "
                                                  f"the stems here are {', '.join(stems)}"))
        if params.duck_db > 0 and params.duck_under not in stems:
            problems.append(("duck_under", f"no stem {params.duck_under!r}{close_matches(params.duck_under, stems)}; "
                                           f"the stems here are {', '.join(stems)}"))
        return problems

    def configure(self, sample_rate: int, num_channels: int, stems: tuple[str, ...] | None = None) -> None:
        from aural.dsp.loudness import LimitedLoudnessMeter, LoudnessMeter
        from aural.dsp.true_peak import TruePeakLimiter

        problems = self.check_stems(self.params, tuple(stems) if stems else None)
        if problems:
            raise StageError(f"mix_master: {problems[0][0]}: {problems[0][1]}")
        target_lufs, true_peak_db = self.params.target(num_channels)
        self._stem_meters = ([LoudnessMeter(sample_rate, num_channels) for _ in stems]
                             if stems and self.params.stems_relative_to is not None else None)
        self._analysis_mixer = _StemMixer(self.params, tuple(stems), sample_rate) if stems else None
        self._mixer = _StemMixer(self.params, tuple(stems), sample_rate) if stems else None
        self._rumble_meter = None
        if self.params.highpass_when == "rumble" and _highpass_fits(self.params, sample_rate):
            from aural.dsp.rumble import RumbleMeter

            self._rumble_meter = RumbleMeter(sample_rate, num_channels, self.params.highpass_hz)
        self._linear_taps = _linear_highpass_taps(self.params, sample_rate)
        self._build_chains(sample_rate, num_channels, with_highpass=True)
        self._meter = LimitedLoudnessMeter(sample_rate, num_channels,
                                           self.params.limiter_lookahead_ms, self.params.limiter_release_ms)
        self._limiter = TruePeakLimiter(sample_rate, num_channels, true_peak_db,
                                        lookahead_ms=self.params.limiter_lookahead_ms,
                                        release_ms=self.params.limiter_release_ms,
                                        margin_db=LIMITER_MARGIN_DB)
        super().configure(sample_rate, num_channels, stems=stems)

    def reset(self) -> None:
        if getattr(self, "_chain", None) is None:
            return
        for part in (self._analysis_chain, self._chain, self._meter, self._limiter, self._analysis_mixer,
                     self._mixer):
            if part is not None:
                part.reset()
        self.measured_lufs: float | None = None
        self.gain_db: float | None = None
        self.stem_lufs: dict[str, float] | None = None
        self.rumble_margin_db: float | None = None
        self._measuring_stems = self._stem_meters is not None  # the stems' loudness first, then the mix's
        self._measuring_rumble = self._rumble_meter is not None  # then the rumble under the high-pass corner
        if self._measuring_rumble:
            self._rumble_meter.reset()
        if self._measuring_stems:
            for meter in self._stem_meters:
                meter.reset()
            for mixer in (self._analysis_mixer, self._mixer):
                mixer.reset_gains()

    @property
    def latency_samples(self) -> int:
        limiter = getattr(self, "_limiter", None)
        return limiter.latency_samples + self._chain.delay_samples if limiter is not None else 0

    def _mixdown(self, audio: torch.Tensor, mixer: _StemMixer | None) -> np.ndarray:
        samples = _to_numpy(audio)
        return mixer.mix(samples) if mixer is not None else samples

    def analyze_block(self, audio: torch.Tensor) -> None:
        if self._measuring_stems:
            for meter, stem in zip(self._stem_meters, _to_numpy(audio)):
                meter.process(stem)
            return
        if self._measuring_rumble:
            self._rumble_meter.process(self._mixdown(audio, self._analysis_mixer))
            return
        self._meter.process(self._analysis_chain.process(self._mixdown(audio, self._analysis_mixer)))

    def finish_analysis(self) -> bool:
        if self._measuring_stems:
            self._measuring_stems = False
            self._set_relative_gains()
            return True  # now the mix's rumble or loudness, with those gains
        if self._measuring_rumble:
            self._measuring_rumble = False
            self._set_highpass()
            return True  # now the loudness, through the chain chosen
        tail = self._analysis_chain.finish()
        if tail.shape[-1]:
            self._meter.process(tail)
        self.measured_lufs = self._meter.integrated_lufs()
        self.gain_db = self._solve_gain() if math.isfinite(self.measured_lufs) else 0.0
        self._chain.reset()
        self._limiter.reset()
        if self._mixer is not None:
            self._mixer.reset()
        return False  # one analysis pass is enough

    def _set_relative_gains(self) -> None:
        """Each stem's gain counted from ``stems_relative_to``'s loudness: a stem's gain puts it
        that far from the reference stem (a silent stem, or a silent reference, keeps its plain gain)."""
        stems = self._mixer.stems
        self.stem_lufs = {name: meter.integrated_lufs() for name, meter in zip(stems, self._stem_meters)}
        reference = self.stem_lufs[self.params.stems_relative_to]
        gains_db = dict(self._mixer.gains_db)
        for name, lufs in self.stem_lufs.items():
            if name != self.params.stems_relative_to and math.isfinite(lufs) and math.isfinite(reference):
                gains_db[name] = min(max(gains_db[name] + reference - lufs, MIN_STEM_GAIN_DB), MAX_STEM_GAIN_DB)
        for mixer in (self._analysis_mixer, self._mixer):
            mixer.set_gains_db(gains_db)

    def _set_highpass(self) -> None:
        """The chains with the high-pass where the rumble meter found noise under its corner, without it elsewhere."""
        self.rumble_margin_db = self._rumble_meter.margin_db()
        rumble = self.rumble_margin_db is not None and self.rumble_margin_db >= self.params.rumble_threshold_db
        self._build_chains(self.sample_rate, self.num_channels, with_highpass=rumble)
        if self._analysis_mixer is not None:
            self._analysis_mixer.reset()

    def _build_chains(self, sample_rate: int, num_channels: int, *, with_highpass: bool) -> None:
        """The analysis pass's chain (aligned with its input) and the output's, with or without the high-pass."""
        self._analysis_chain = _PreGainChain(self.params, sample_rate, num_channels, with_highpass=with_highpass,
                                             linear_taps=self._linear_taps, aligned=True)
        self._chain = _PreGainChain(self.params, sample_rate, num_channels, with_highpass=with_highpass,
                                    linear_taps=self._linear_taps)

    def _solve_gain(self) -> float:
        """The gain that brings the limited output to target_lufs (bisection on the model)."""
        target_lufs, true_peak_db = self.params.target(self.num_channels)
        ceiling_db = true_peak_db - LIMITER_MARGIN_DB
        low = min(target_lufs - self.measured_lufs, self.params.max_gain_db)
        high = min(low + self.params.max_limiting_db, self.params.max_gain_db)
        predict = lambda gain_db: self._meter.predict_lufs(gain_db, ceiling_db)  # noqa: E731
        if high <= low or predict(low) >= target_lufs - 0.005:
            return low
        if predict(high) <= target_lufs:
            return high
        while high - low > 0.002:
            middle = 0.5 * (low + high)
            low, high = (middle, high) if predict(middle) < target_lufs else (low, middle)
        return 0.5 * (low + high)

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        import torch

        if getattr(self, "gain_db", None) is None:
            raise StageError("mix_master: process_block before finish_analysis; the stage "
                             "needs its analysis pass (analyze_block ... finish_analysis)")
        out = self._chain.process(self._mixdown(audio, self._mixer)) * 10.0 ** (self.gain_db / 20.0)
        return torch.from_numpy(self._limiter.process(out).astype("float32"))

    def describe(self) -> dict:
        target_lufs, true_peak_db = self.params.target(self.num_channels or 2)
        measured = getattr(self, "measured_lufs", None)
        extra = {}
        if getattr(self, "stem_lufs", None):
            extra = {"stem_lufs": {k: (v if math.isfinite(v) else None) for k, v in self.stem_lufs.items()},
                        "stem_gains_db": dict(self._mixer.gains_db)}
        if getattr(self, "_rumble_meter", None) is not None and not self._measuring_rumble:
            extra["rumble_margin_db"] = self.rumble_margin_db
            extra["highpass_applied"] = self._chain.has_highpass
        return {**super().describe(), **extra, "target_lufs": target_lufs, "true_peak_db": true_peak_db,
                "measured_lufs": measured if measured is not None and math.isfinite(measured) else None,
                "gain_db": getattr(self, "gain_db", None)}


def _highpass_fits(params: MixMasterParams, sample_rate: int) -> bool:
    """Whether the rumble high-pass is on and its corner lies under the EQ's limit (95 % of Nyquist)."""
    return 0 < params.highpass_hz < NYQUIST_FRACTION * sample_rate / 2


def _linear_highpass_taps(params: MixMasterParams, sample_rate: int) -> np.ndarray | None:
    """The linear-phase high-pass (the biquad's magnitude, ``LINEAR_HIGHPASS_PERIODS`` periods of
    its corner long, an odd number of taps), or None where the high-pass is minimum-phase or off."""
    if params.highpass_phase != "linear" or not _highpass_fits(params, sample_rate):
        return None
    from aural.dsp.filters import highpass, linear_phase_taps

    half = round(LINEAR_HIGHPASS_PERIODS * sample_rate / params.highpass_hz / 2)
    return linear_phase_taps(highpass(params.highpass_hz, sample_rate, q=params.highpass_q), sample_rate,
                             2 * half + 1)


def _to_numpy(audio: torch.Tensor) -> np.ndarray:
    return audio.detach().cpu().numpy().astype("float64")
