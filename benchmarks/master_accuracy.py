"""Loudness and true-peak accuracy of ``podcast_master`` on real files, with independent meters.

    python benchmarks/master_accuracy.py FILE...

For each file: stream it through ``podcast_master`` (24-bit output), then measure the output's
integrated loudness with pyloudnorm and its true peak by 8x soxr oversampling (neither is
aural's own meter). Target: -16 LUFS +/- 0.5, true peak <= -1.0 dBTP.
"""

import pathlib
import sys
import tempfile

import numpy as np
import pyloudnorm
import soxr

from aural import io
from aural.pipeline import load_pipeline
files = sys.argv[1:]
p = load_pipeline("podcast_master")
for f in files:
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "o.wav"
        p.run_file(f, out, subtype="PCM_24")
        s = io.read(out); a = s.audio.numpy().astype(np.float64)
        lufs = pyloudnorm.Meter(s.sample_rate).integrated_loudness(a.T)
        up = soxr.resample(np.ascontiguousarray(a.T), s.sample_rate, s.sample_rate * 8, quality="VHQ")
        print(f"{pathlib.Path(f).name}\t{s.sample_rate}\t{lufs:.2f} LUFS\t{20*np.log10(np.abs(up).max()):.2f} dBTP")
