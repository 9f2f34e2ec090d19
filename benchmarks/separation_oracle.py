"""Ceilings of mask-based separation on the held-out mixtures: oracle masks from the true stems.

    python benchmarks/separation_oracle.py [--mixes out/separation_bench/mixes_n100_seed0_6s]

Each mask is computed from the true voice and background (what a perfect network could at best
predict in that form) and applied to the mixture's STFT (16 kHz, 512-point periodic Hann, hop 128:
the ``separation`` stage's framing); the voice estimate is scored by SI-SDR against the true voice:

- ``irm_mel``: the ideal ratio mask on the stage's 128 mel bands, spread back to bins (the form
  the shipped ``separation`` network predicts);
- ``irm_bin``: the ideal ratio mask per STFT bin, ``sqrt(|V|^2 / (|V|^2 + |B|^2))``;
- ``magnitude_bin``: ``|V| / |M|`` per bin, capped at 1 (the best real mask bounded by 1);
- ``magnitude_bin_2``: the same capped at 2 (a real mask that may also raise a bin);
- ``phase_sensitive_bin``: ``|V| / |M| cos(angle V - angle M)``, in [0, 2] (a real mask that
  knows the phase difference; the best real mask for the STFT-domain squared error);
- ``complex_bin_1.5``: the complex ratio ``V / M`` with its magnitude capped at 1.5 (the form and
  bound of the ``complex_mask`` network: it also turns each bin's phase).

What a mask can reach tells which architecture a target needs. Writes nothing; prints a table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aural.metrics.separation import si_sdr_db  # noqa: E402
from aural.nn.spectral import hann_window, istft, mel_filterbank, mel_to_linear_weights, stft  # noqa: E402

N_FFT, HOP, N_MELS, F_MIN_HZ, SAMPLE_RATE = 512, 128, 128, 40.0, 16000


def masks(voice: torch.Tensor, background: torch.Tensor, mixture: torch.Tensor,
          spread: torch.Tensor, filterbank: torch.Tensor) -> dict[str, torch.Tensor]:
    voice_power, background_power = voice.abs() ** 2, background.abs() ** 2
    mel_voice, mel_background = voice_power @ filterbank.T, background_power @ filterbank.T
    ratio = voice.abs() / mixture.abs().clamp_min(1e-8)
    complex_ratio = voice / torch.where(mixture.abs() > 1e-8, mixture, torch.full_like(mixture, 1e-8))
    bounded = complex_ratio * (complex_ratio.abs().clamp(max=1.5) / complex_ratio.abs().clamp_min(1e-12))
    return {
        "irm_mel": (mel_voice / (mel_voice + mel_background).clamp_min(1e-12)).sqrt() @ spread.T,
        "irm_bin": (voice_power / (voice_power + background_power).clamp_min(1e-12)).sqrt(),
        "magnitude_bin": ratio.clamp(0.0, 1.0),
        "magnitude_bin_2": ratio.clamp(0.0, 2.0),
        "phase_sensitive_bin": (ratio * torch.cos(voice.angle() - mixture.angle())).clamp(0.0, 2.0),
        "complex_bin_1.5": bounded,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixes", type=Path, default=ROOT / "out" / "separation_bench" / "mixes_n100_seed0_6s",
                        help="an `aural data mix` folder (mix-*/{mixture,voice,background}.wav at 16 kHz)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    window = hann_window(N_FFT)
    filterbank = mel_filterbank(N_FFT // 2 + 1, N_MELS, SAMPLE_RATE, f_min=F_MIN_HZ)
    spread = mel_to_linear_weights(filterbank)
    scores: dict[str, list[float]] = {}
    folders = sorted(args.mixes.glob("mix-*"))
    if not folders:
        raise SystemExit(f"{args.mixes}: no mix-* folders (make them with benchmarks/separation.py)")
    for folder in folders:
        voice, rate = sf.read(folder / "voice.wav", dtype="float32", always_2d=True)
        background, _ = sf.read(folder / "background.wav", dtype="float32", always_2d=True)
        if rate != SAMPLE_RATE:
            raise SystemExit(f"{folder}: {rate} Hz; the oracle runs on 16 kHz mixtures")
        voice, background = voice[:, 0], background[:, 0]
        mixture = voice + background
        spectra = [stft(torch.nn.functional.pad(torch.from_numpy(x)[None], (N_FFT - HOP, N_FFT)), N_FFT, HOP, window)
                   for x in (voice, background, mixture)]
        scores.setdefault("mixture", []).append(si_sdr_db(voice, mixture))
        for name, mask in masks(*spectra, spread, filterbank).items():
            estimate = istft(spectra[2] * mask, N_FFT, HOP, window)[0, N_FFT - HOP:N_FFT - HOP + len(mixture)]
            scores.setdefault(name, []).append(si_sdr_db(voice, estimate.numpy()))
    base = float(np.mean(scores["mixture"]))
    print(f"{len(folders)} mixtures from {args.mixes}\n")
    print("| voice estimate | SI-SDR dB | SI-SDRi dB |\n|---|---:|---:|")
    for name, values in scores.items():
        print(f"| `{name}` | {np.mean(values):.2f} | {np.mean(values) - base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
