"""What fusing the separation network's and DeepFilterNet3's voice per STFT bin can give.

    python benchmarks/separation_fusion.py oracle  --mixes runs/exp/sepbench/mixes_n100_seed0_6s --cache runs/exp/fusion/est
    python benchmarks/separation_fusion.py offsets --mixes ... --cache ... --weights models/separation/fusion.safetensors \
        --offsets=-2,-1.5,-1,-0.5,0

Both read the mixtures of ``benchmarks/separation.py`` and keep each mixture's two voice estimates
(the ``separation`` stage alone, and with ``deepfilter_share: 1``: DeepFilterNet3, aligned) in
``--cache`` (``<mix>.npz``: ``vn``, ``vd``), computed on first use (needs the extra ``deepfilter``).

- ``oracle``: voice SI-SDRi of each estimate, of the fixed 0.3 / 0.7 blend, of three handcrafted
  per-bin rules and of two oracles that know the true voice (the better estimate per bin; the best
  real share in [0, 1] per bin), on the stage's framing (512-point Hann, hop 128). The first and
  last 512 samples are left out of the score (the inverse STFT of a changed spectrum is not
  defined there).
- ``offsets``: voice SI-SDRi of a VoiceFusion checkpoint or export run offline on the cached
  estimates, its share's logit shifted by each offset (how ``scripts/train_separation.py
  calibrate`` chose its offset).

Prints a table; writes only the cache.
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
from aural.nn.spectral import hann_window, istft, stft  # noqa: E402

N_FFT, HOP, EDGE = 512, 128, 512


def mixtures(mixes: Path, cache: Path):
    """``(mixture, voice, network voice, DeepFilterNet3 voice)`` per mixture, estimates cached."""
    from aural.signal import Signal
    from aural.stages.separation import separate

    cache.mkdir(parents=True, exist_ok=True)
    for folder in sorted(mixes.glob("mix-*")):
        mixture, rate = sf.read(folder / "mixture.wav", dtype="float32")
        voice, _ = sf.read(folder / "voice.wav", dtype="float32")
        saved = cache / f"{folder.name}.npz"
        if not saved.exists():
            signal = Signal(torch.from_numpy(mixture)[None], rate)
            np.savez(saved, vn=separate(signal)["voice"].audio[0].numpy(),
                     vd=separate(signal, deepfilter_share=1.0)["voice"].audio[0].numpy())
        with np.load(saved) as estimates:
            yield mixture, voice, estimates["vn"], estimates["vd"]


def improvement(voice: np.ndarray, estimate: np.ndarray, mixture: np.ndarray) -> float:
    inner = slice(EDGE, -EDGE)
    return si_sdr_db(voice[inner], np.asarray(estimate)[inner]) - si_sdr_db(voice[inner], mixture[inner])


def oracle_table(mixes: Path, cache: Path) -> dict[str, float]:
    window = hann_window(N_FFT)
    scores: dict[str, list[float]] = {}
    for mixture, voice, network, deepfilter in mixtures(mixes, cache):
        S, N, D = (stft(torch.from_numpy(np.asarray(x, dtype=np.float32))[None], N_FFT, HOP, window)[0]
                   for x in (voice, network, deepfilter))

        def back(spectrum: torch.Tensor) -> np.ndarray:
            out = istft(spectrum[None], N_FFT, HOP, window)[0].numpy()
            return np.pad(out, (0, len(mixture) - len(out)))

        gap = N - D
        best_share = (((S - D) * gap.conj()).real / gap.abs().square().clamp_min(1e-12)).clamp(0.0, 1.0)
        candidates = {
            "network alone": network, "DeepFilterNet3 alone": deepfilter,
            "fixed blend 0.3 / 0.7": 0.3 * network + 0.7 * deepfilter,
            "magnitude blend 0.3 / 0.7, DeepFilterNet3's phase": back(torch.polar(0.3 * N.abs() + 0.7 * D.abs(), D.angle())),
            "geometric mean of magnitudes, DeepFilterNet3's phase": back(torch.polar((N.abs() * D.abs()).sqrt(), D.angle())),
            "smaller magnitude, DeepFilterNet3's phase": back(torch.polar(torch.minimum(N.abs(), D.abs()), D.angle())),
            "oracle: the better estimate per bin": back(torch.where((N - S).abs() < (D - S).abs(), N, D)),
            "oracle: the best share in [0, 1] per bin": back(D + best_share * gap),
        }
        for name, estimate in candidates.items():
            scores.setdefault(name, []).append(improvement(voice, estimate, mixture))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def offsets_table(mixes: Path, cache: Path, weights: Path, offsets: list[float]) -> dict[float, float]:
    from aural.stages.separation.fusion import build_fusion
    from aural.weights import load_model

    model, _, _ = load_model("separation", str(weights), build_fusion)
    bias = model.head.bias.detach().clone()
    items = list(mixtures(mixes, cache))
    table = {}
    for offset in offsets:
        model.head.bias.data = bias + offset
        gains = []
        for mixture, voice, network, deepfilter in items:
            stacked = torch.from_numpy(np.stack([mixture, network, deepfilter]).astype(np.float32))[None]
            with torch.no_grad():
                gains.append(improvement(voice, model(stacked)[0, 0].numpy(), mixture))
        table[offset] = float(np.mean(gains))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("oracle", "offsets"))
    parser.add_argument("--mixes", type=Path, default=ROOT / "runs" / "exp" / "sepbench" / "mixes_n100_seed0_6s")
    parser.add_argument("--cache", type=Path, required=True, help="folder for the two voice estimates per mixture")
    parser.add_argument("--weights", type=Path, default=ROOT / "models" / "separation" / "fusion.safetensors")
    parser.add_argument("--offsets", default="0", help="offsets: comma-separated logit offsets")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.what == "oracle":
        print("| voice estimate | SI-SDRi dB |\n|---|---:|")
        for name, value in oracle_table(args.mixes, args.cache).items():
            print(f"| {name} | {value:.3f} |")
    else:
        offsets = [float(x) for x in args.offsets.split(",")]
        print("| logit offset | voice SI-SDRi dB |\n|---|---:|")
        for offset, value in offsets_table(args.mixes, args.cache, args.weights, offsets).items():
            print(f"| {offset:g} | {value:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
