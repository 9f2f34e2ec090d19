"""A 1000-file batch with 5 % broken files, and signals in the middle of it.

    python benchmarks/batch.py --work /tmp/aural_batch            # 950 good + 50 broken files
    python benchmarks/batch.py --files 200 --pipelines podcast_master

Cuts short real-speech files (2 s each) from ``$AURAL_DATA/speech`` (default
``../shared/data``) into ``WORK/in`` (never into the repository), breaks 5 % of them in five
ways (random bytes, text named .wav, zero length, a header and no samples, NaN samples), and
runs ``aural run PIPELINE WORK/in -o WORK/out_<pipeline>`` in a child process for each
pipeline. It checks that every good file was written, that every broken one was reported in
exactly one line and that the exit status is 1, and reports wall time and the child's peak
resident memory. Then, on the first pipeline: SIGTERM in the middle of a run (exit 143,
nothing temporary left), kill -9 in the middle of another (partial files are left), and a
rerun with --overwrite that completes, removes what the killed run left, and leaves nothing
temporary in the output folder or $TMPDIR. Prints a Markdown table and writes JSON with
``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SEGMENT_S = 2.0
BROKEN_KINDS = ("random_bytes", "text", "zero_length", "header_only", "nan")


def data_root() -> Path:
    return Path(os.environ.get("AURAL_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def make_inputs(folder: Path, num_files: int, broken_fraction: float) -> tuple[list[Path], list[Path]]:
    """``num_files`` files in ``folder``: 2 s cuts of real speech, a fraction of them broken."""
    sources = sorted((data_root() / "speech").rglob("*.flac"))
    if not sources:
        raise SystemExit(f"no speech found under {data_root() / 'speech'} (set AURAL_DATA)")
    num_broken = int(round(num_files * broken_fraction))
    good, broken = [], []
    rng = np.random.default_rng(0)
    for source in sources:
        audio, rate = sf.read(str(source), dtype="float32", always_2d=True)
        step = int(SEGMENT_S * rate)
        for start in range(0, audio.shape[0] - step + 1, step):
            if len(good) == num_files - num_broken:
                break
            path = folder / source.parent.name / f"{source.stem}_{start // step:03d}.flac"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), audio[start:start + step], rate)
            good.append(path)
        if len(good) == num_files - num_broken:
            break
    for index in range(num_broken):
        kind = BROKEN_KINDS[index % len(BROKEN_KINDS)]
        path = folder / "broken" / f"{kind}_{index:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "random_bytes":
            path.write_bytes(rng.bytes(20000))
        elif kind == "text":
            path.write_text("this is not audio\n" * 100)
        elif kind == "zero_length":
            path.write_bytes(b"")
        elif kind == "header_only":
            sf.write(str(path), np.zeros((0, 1), np.float32), 16000)
        else:
            audio = (0.1 * rng.standard_normal((32000, 1))).astype(np.float32)
            audio[1000:1010] = np.nan
            sf.write(str(path), audio, 16000, subtype="FLOAT")
        broken.append(path)
    return good, broken


def run_aural(args: list[str], temp_dir: Path, stop: tuple[int, float, int] | None = None) -> dict:
    """Run ``aural ARGS`` in a child; with ``stop=(signal, fraction, expected outputs)``, send
    the signal once that fraction of the outputs exist. Returns exit status, stderr, wall time, peak RSS."""
    env = {**os.environ, "TMPDIR": str(temp_dir), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "aural", *args], env=env, stderr=subprocess.PIPE, text=True)
    stderr_lines: list[str] = []
    if stop is not None:
        import threading

        reader = threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True)
        reader.start()
        out_dir = Path(args[args.index("-o") + 1])
        while process.poll() is None:
            if sum(1 for _ in out_dir.rglob("*.flac")) >= stop[1] * stop[2]:
                process.send_signal(stop[0])
                break
            time.sleep(0.2)
        _, status, usage = os.wait4(process.pid, 0)
        reader.join(timeout=10)
        stderr = "".join(stderr_lines)
    else:
        stderr_text = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        stderr = stderr_text
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"code": process.returncode, "stderr": stderr, "wall_s": time.perf_counter() - start,
            "peak_rss_mb": usage.ru_maxrss / 1024}


def leftovers(*folders: Path) -> list[str]:
    found = []
    for folder in folders:
        if folder.exists():
            found += [str(p) for p in folder.rglob("*") if p.name.startswith(".") or "aural-spool" in p.name
                      or p.suffix in (".part", ".tmp")]
    return found


def check_batch(result: dict, in_dir: Path, out_dir: Path, good: list[Path], broken: list[Path]) -> dict:
    lines = [line for line in result["stderr"].splitlines() if line.startswith("aural: ")]
    reported = {path: sum(1 for line in lines if line.startswith(f"aural: {path}: ")) for path in broken}
    written = [p for p in good if (out_dir / p.relative_to(in_dir)).is_file()]
    return {"good_written": len(written), "good": len(good), "broken": len(broken),
            "broken_reported_once": sum(1 for n in reported.values() if n == 1),
            "broken_reported_more_than_once": sum(1 for n in reported.values() if n > 1),
            "good_reported": sum(1 for line in lines for p in good if line.startswith(f"aural: {p}: ")),
            "tracebacks": result["stderr"].count("Traceback")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/aural_batch"))
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--broken-fraction", type=float, default=0.05)
    parser.add_argument("--pipelines", nargs="+", default=["podcast_master", "phone_to_studio"])
    parser.add_argument("--json", type=Path, default=None)
    options = parser.parse_args()

    work = options.work
    if work.exists():
        shutil.rmtree(work)
    in_dir, temp_dir = work / "in", work / "tmp"
    temp_dir.mkdir(parents=True)
    good, broken = make_inputs(in_dir, options.files, options.broken_fraction)
    print(f"{len(good)} good and {len(broken)} broken files in {in_dir}", file=sys.stderr)
    rows = []
    for pipeline in options.pipelines:
        out_dir = work / f"out_{pipeline}"
        result = run_aural(["run", pipeline, str(in_dir), "-o", str(out_dir), "-q"], temp_dir)
        checks = check_batch(result, in_dir, out_dir, good, broken)
        summary = re.findall(r"aural: (\d+ of \d+ files written.*)", result["stderr"])
        rows.append({"run": f"{pipeline}: full batch", "code": result["code"], "wall_s": round(result["wall_s"], 1),
                     "peak_rss_mb": round(result["peak_rss_mb"], 1), **checks,
                     "summary": summary[-1] if summary else "", "leftovers": leftovers(out_dir, temp_dir)})

    pipeline = options.pipelines[0]
    for name, signum in (("SIGTERM", signal.SIGTERM), ("kill -9", signal.SIGKILL)):
        out_dir = work / f"{signum.name.lower()}_{pipeline}"
        args = ["run", pipeline, str(in_dir), "-o", str(out_dir), "-q", "--overwrite"]
        result = run_aural(args, temp_dir, stop=(signum, 0.5, len(good)))
        rows.append({"run": f"{pipeline}: {name} at 50 %", "code": result["code"], "wall_s": round(result["wall_s"], 1),
                     "peak_rss_mb": round(result["peak_rss_mb"], 1),
                     "good_written": sum(1 for p in good if (out_dir / p.relative_to(in_dir)).is_file()),
                     "last_line": result["stderr"].strip().splitlines()[-1] if result["stderr"].strip() else "",
                     "leftovers": leftovers(out_dir, temp_dir)})
    result = run_aural(args, temp_dir)  # the kill -9 folder
    removed = re.findall(r"removed (\d+) temporary files", result["stderr"])
    rows.append({"run": f"{pipeline}: rerun after kill -9", "code": result["code"], "wall_s": round(result["wall_s"], 1),
                 "peak_rss_mb": round(result["peak_rss_mb"], 1), **check_batch(result, in_dir, out_dir, good, broken),
                 "removed_from_killed_run": int(removed[0]) if removed else 0,
                 "leftovers": leftovers(out_dir, temp_dir)})

    print("| run | exit | wall s | peak RSS MB | good written | broken reported once | leftovers |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        written = f"{row['good_written']}/{len(good)}"
        once = f"{row['broken_reported_once']}/{len(broken)}" if "broken_reported_once" in row else "-"
        print(f"| {row['run']} | {row['code']} | {row['wall_s']} | {row['peak_rss_mb']} | {written} | {once} | "
              f"{len(row['leftovers'])} |")
    for row in rows:
        extra = {k: v for k, v in row.items() if k in ("summary", "last_line", "removed_from_killed_run",
                                                        "broken_reported_more_than_once", "good_reported", "tracebacks")}
        print(f"- {row['run']}: {json.dumps(extra)}")
    if options.json:
        options.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
