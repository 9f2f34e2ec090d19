#!/usr/bin/env python
"""How much DNSMOS moves with playback level alone: the same outputs scored louder and quieter.

    python benchmarks/dnsmos_level.py --pairs PAIRS/ [--system stage:mel_unet] [--every 10] [--gains-db -10,0,10]

Runs one system (any ``aural bench`` system) on every ``--every``-th input of a pairs folder and
scores DNSMOS SIG, BAK and OVRL of its output scaled by each gain (clipped at full scale, as a
file would be). DNSMOS (P.835, through speechmos) does not normalise its input, so a system
that changes loudness, e.g. a mastering stage that brings speech to -16 LUFS, changes its
DNSMOS for that reason alone; read DNSMOS across systems with their output loudness in mind.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--system", default="stage:mel_unet")
    parser.add_argument("--every", type=int, default=10, help="use every N-th pair")
    parser.add_argument("--gains-db", default="-10,0,10")
    args = parser.parse_args(argv)

    import torch

    from aural import io
    from aural.bench import find_pairs
    from aural.evaluate.scoring import score_signals
    from aural.systems import get_system

    torch.set_num_threads(1)
    gains_db = [float(g) for g in args.gains_db.split(",")]
    system = get_system(args.system)
    names = ["dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"]
    scores: dict[float, list[list[float]]] = {g: [] for g in gains_db}
    pairs = find_pairs(args.pairs)[::args.every]
    for pair in pairs:
        reference, output = io.read(pair.reference), system.process(io.read(pair.degraded))
        for gain in gains_db:
            louder = output.replace((output.audio * 10 ** (gain / 20)).clamp(-1.0, 1.0))
            values = score_signals(reference, louder, names).values
            scores[gain].append([values[name] for name in names])
    print(f"{args.system} on {len(pairs)} pairs of {args.pairs}")
    print("| gain dB | " + " | ".join(names) + " |")
    print("|---:|" + "---:|" * len(names))
    for gain in gains_db:
        means = np.mean(scores[gain], axis=0)
        print(f"| {gain:+g} | " + " | ".join(f"{m:.3f}" for m in means) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
