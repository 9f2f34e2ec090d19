"""What the band at the very top costs freq_expansion's LSD: its saved bench outputs low-passed
at a few frequencies, rescored against the references.

The held-out music is 44.1 kHz material (nothing above 22.05 kHz in the reference) and VCTK is
48 kHz material (content up to 24 kHz); this shows how much of each set's full-band LSD lies in
the generated band above a frequency. Needs the outputs of
``python scripts/train_freq_expansion.py bench`` (``runs/freq_expansion/bench``).

    python benchmarks/freq_expansion_top_band.py [--system stage_freq_expansion] [--hz 20000 21000 22000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from train_freq_expansion import RUN, SPEECH_SETS  # noqa: E402  (the pairs and corpora its bench scores)

SAMPLE_RATE = 48000
TRANSITION_HZ = 200.0


def low_passed(audio: np.ndarray, top_hz: float) -> np.ndarray:
    """``audio`` with everything above ``top_hz`` removed (raised-cosine edge of ``TRANSITION_HZ``)."""
    spectrum = np.fft.rfft(audio)
    freqs = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    ramp = np.clip((top_hz - freqs) / TRANSITION_HZ + 0.5, 0.0, 1.0)
    return np.fft.irfft(spectrum * (0.5 - 0.5 * np.cos(np.pi * ramp)), len(audio))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", default="stage_freq_expansion", help="folder name under bench/<pairs>/audio/")
    parser.add_argument("--hz", type=float, nargs="+", default=[20000.0, 21000.0, 22000.0])
    args = parser.parse_args()

    from aural import io
    from aural.metrics.spectral import log_spectral_distance

    tops = [*args.hz, None]
    print("| pairs | files | " + " | ".join(f"below {t / 1000:g} kHz" if t else "full band" for t in tops) + " |")
    print("|---|---:|" + "---:|" * len(tops))
    for pairs in sorted((RUN / "pairs").iterdir()):
        scores: dict[str, list[list[float]]] = {}
        for folder in sorted(p for p in pairs.iterdir() if p.is_dir()):
            outputs = sorted((RUN / "bench" / pairs.name / "audio" / args.system / folder.name).glob("*.wav"))
            if not outputs:
                continue
            reference = io.read(folder / "clean.flac").audio[0].double().numpy()
            estimate = io.read(outputs[0]).audio[0].double().numpy()
            length = min(len(reference), len(estimate))
            reference, estimate = reference[:length], estimate[:length]
            row = [log_spectral_distance(reference, low_passed(estimate, t) if t else estimate, SAMPLE_RATE)
                   for t in tops]
            corpus = next((name for name, prefix in SPEECH_SETS.items() if folder.name.startswith(prefix)), None)
            for label in ("all", corpus):
                if label:
                    scores.setdefault(label, []).append(row)
        for label, rows in scores.items():
            name = pairs.name if label == "all" else f"{pairs.name} {label}"
            print(f"| {name} | {len(rows)} | " + " | ".join(f"{v:.3f}" for v in np.mean(rows, axis=0)) + " |")


if __name__ == "__main__":
    main()
