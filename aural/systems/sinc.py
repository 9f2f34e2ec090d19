"""``soxr``: sinc upsampling to 48 kHz, the floor a bandwidth extender has to beat.

Very-high-quality soxr resampling (linear phase) of the input to 48 kHz: the band the input
holds is kept and nothing is added above it, which is what every resampler, and an aural
pipeline without ``freq_expansion``, gives.
"""

from __future__ import annotations

from aural.dsp.resample import resample
from aural.signal import Signal
from aural.systems import SYSTEMS
from aural.systems.base import System, fit_length, package_version

OUTPUT_SAMPLE_RATE = 48000


@SYSTEMS.register("soxr")
class SincUpsamplingSystem(System):
    name = "soxr"
    summary = "sinc (soxr) upsampling to 48 kHz: the input's band, nothing added (bandwidth-extension floor)"
    native_sample_rate = OUTPUT_SAMPLE_RATE

    def versions(self) -> dict[str, str]:
        return {"soxr": package_version("soxr")}

    def process(self, signal: Signal) -> Signal:
        audio = resample(signal.audio, signal.sample_rate, OUTPUT_SAMPLE_RATE)
        num_samples = round(signal.num_samples * OUTPUT_SAMPLE_RATE / signal.sample_rate)
        out = signal.replace(fit_length(audio, num_samples).contiguous(), OUTPUT_SAMPLE_RATE)
        return out.with_history(f"system:{self.name}", versions=self.versions())
