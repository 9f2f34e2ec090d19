"""How much a per-bin choice between two systems' outputs could give, on the shared recorded pairs.

    python benchmarks/compare.py --shared-pairs --save-audio --out OUT --systems A,B ...
    python benchmarks/two_path_oracle.py OUT/audio/<A> OUT/audio/<B>

References from ``$AURAL_DATA/pairs`` (default ``../shared/data``). Both outputs and the clean reference at 16 kHz, STFT 512 / hop 128 (periodic Hann), first channel.
Three estimates, each scored as `aural bench` scores a system: ``complex`` takes in every bin the
output whose complex value is nearer the reference's (an oracle), ``logmag`` the one whose log
magnitude is nearer (an oracle), ``min`` the one with the smaller magnitude (a rule that needs no
reference). Outputs are matched by file name (``<pair>__<input>.wav``, as ``--save-audio`` writes).
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from aural import io
from aural.evaluate.scoring import score_signals

METRICS = ["pesq_wb", "stoi", "dnsmos_sig_norm", "dnsmos_bak_norm", "dnsmos_ovrl_norm"]
PAIRS = Path(os.environ.get("AURAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "pairs"
SAMPLE_RATE, N_FFT, HOP = 16000, 512, 128


def reference_of(name: str) -> Path:
    folder = PAIRS / name.split("__")[0]
    return next(p for p in folder.iterdir() if p.stem in ("clean", "reference", "studio"))


def spectrum(audio: torch.Tensor) -> torch.Tensor:
    return torch.stft(audio, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True)


def score(job: tuple[Path, Path, str]) -> dict[str, dict[str, float]]:
    first, second, name = job
    a, b, reference = (io.read(path).resample(SAMPLE_RATE) for path in (first / name, second / name, reference_of(name)))
    n = min(a.num_samples, b.num_samples, reference.num_samples)
    sa, sb, sr = (spectrum(signal.audio[0, :n]) for signal in (a, b, reference))
    log_error = lambda s: (s.abs().clamp_min(1e-8).log() - sr.abs().clamp_min(1e-8).log()).abs()  # noqa: E731
    choices = {"complex": (sa - sr).abs() < (sb - sr).abs(), "logmag": log_error(sa) < log_error(sb),
               "min": sa.abs() < sb.abs()}
    scores = {}
    for label, take_a in choices.items():
        fused = torch.istft(torch.where(take_a, sa, sb), N_FFT, HOP, window=torch.hann_window(N_FFT), length=n)
        scores[label] = score_signals(reference.slice(0, n), a.replace(audio=fused[None]), METRICS).values
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    names = sorted(p.name for p in args.first.iterdir())
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(score, [(args.first, args.second, name) for name in names]))
    print("| per bin | " + " | ".join(METRICS) + " |\n|---|" + "---:|" * len(METRICS))
    for label in results[0]:
        means = [np.mean([r[label][m] for r in results if m in r[label]]) for m in METRICS]
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in means) + " |")


if __name__ == "__main__":
    main()
