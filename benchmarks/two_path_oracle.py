"""How much a per-bin choice between two systems' outputs could give, on the shared recorded pairs.

    python benchmarks/compare.py --shared-pairs --save-audio --out OUT --systems A,B ...
    python benchmarks/two_path_oracle.py OUT/audio/<A> OUT/audio/<B>

References: the pairs of ``$AURAL_DATA/pairs`` (as ``compare.py --shared-pairs`` reads them; its
``--save-audio`` names each output ``<pair folder>__<degraded stem>.wav``). Both outputs and the
reference at 16 kHz on the stages' framing (``aural.nn.spectral``: 512-point periodic Hann, hop 128,
the signal padded by a frame each side), first channel. Three estimates, each scored as ``aural
bench`` scores a system: ``complex`` takes in every bin the output whose complex value is nearer
the reference's (an oracle), ``logmag`` the one whose log magnitude is nearer (an oracle), ``min``
the one with the smaller magnitude (a rule that needs no reference).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from compare import shared_pairs_dir  # sets the thread variables to 1 before numpy and torch load

import numpy as np  # noqa: E402
import torch  # noqa: E402

from aural import io  # noqa: E402
from aural.evaluate.pairs import match_pairs  # noqa: E402
from aural.evaluate.scoring import score_signals  # noqa: E402
from aural.nn.spectral import hann_window, istft, stft  # noqa: E402

METRICS = ["pesq_wb", "stoi", "dnsmos_sig_norm", "dnsmos_bak_norm", "dnsmos_ovrl_norm"]
SAMPLE_RATE, N_FFT, HOP = 16000, 512, 128
MAGNITUDE_FLOOR = 1e-8


def references() -> dict[str, Path]:
    """Saved output name (without suffix) -> the pair's reference file."""
    matching, _ = match_pairs(shared_pairs_dir())
    return {pair.file.replace("/", "__"): pair.reference for pair in matching.pairs}


def per_bin(first: torch.Tensor, second: torch.Tensor, reference: torch.Tensor) -> dict[str, torch.Tensor]:
    """``(samples,)`` waveforms -> each per-bin choice between ``first`` and ``second``, as waveforms."""
    window = hann_window(N_FFT)
    n = first.shape[-1]
    padded = torch.nn.functional.pad(torch.stack([first, second, reference]), (N_FFT, N_FFT))
    sa, sb, sr = stft(padded, N_FFT, HOP, window)

    def log_error(spectrum: torch.Tensor) -> torch.Tensor:
        return (spectrum.abs().clamp_min(MAGNITUDE_FLOOR).log() - sr.abs().clamp_min(MAGNITUDE_FLOOR).log()).abs()

    choices = {"complex": (sa - sr).abs() < (sb - sr).abs(), "logmag": log_error(sa) < log_error(sb),
               "min": sa.abs() < sb.abs()}
    return {label: istft(torch.where(take_first, sa, sb), N_FFT, HOP, window)[N_FFT:N_FFT + n]
            for label, take_first in choices.items()}


def score(job: tuple[Path, Path, Path]) -> dict[str, dict[str, float]]:
    first, second, reference_path = job
    a, b, reference = (io.read(path).resample(SAMPLE_RATE) for path in (first, second, reference_path))
    n = min(a.num_samples, b.num_samples, reference.num_samples)
    fused = per_bin(a.audio[0, :n], b.audio[0, :n], reference.audio[0, :n])
    return {label: score_signals(reference.slice(0, n), a.replace(audio=audio[None]), METRICS).values
            for label, audio in fused.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    reference_of = references()
    jobs = [(path, args.second / path.name, reference_of[path.stem]) for path in sorted(args.first.glob("*.wav"))]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(score, jobs))
    print("| per bin | " + " | ".join(METRICS) + " |\n|---|" + "---:|" * len(METRICS))
    for label in results[0]:
        means = [np.mean([r[label][m] for r in results if m in r[label]]) for m in METRICS]
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in means) + " |")


if __name__ == "__main__":
    main()
