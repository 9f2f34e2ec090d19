"""Scaling out: ``aural run`` locally against ``--engine ray`` with 1 and 2 workers.

    python benchmarks/scaling_ray.py --work /tmp/aural_scaling                # 200 files, both pipelines
    python benchmarks/scaling_ray.py --files 20 --pipelines podcast_master   # a quick look

Cuts ``--files`` 2 s pieces of real speech from ``$AURAL_DATA/speech`` into ``WORK/in`` (as
``benchmarks/batch.py`` does), then for each pipeline runs, each in a child process with one
compute thread per worker:

- ``aural run PIPELINE WORK/in -o WORK/out`` (the local engine: this process, file after file),
- ``aural run ... --engine ray --num-workers 1`` and ``--num-workers 2`` (a local Ray started for
  the run, one CPU per worker; Ray's start-up and shutdown are inside the wall time).

It reports wall time, files per second (overall, and from the first output to the last, which
leaves Ray's start-up and the pipeline's loading out), peak resident memory per worker (the local process;
each Ray worker's ``VmHWM`` read from ``/proc`` while it runs, so Linux only) and the driver's,
Ray's overhead against the local run, and checks that every Ray output is byte-identical to
the local one. Prints a Markdown table; ``--json`` writes the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch import make_inputs  # noqa: E402

WORKER_MARK = b"ray::PipelineWorker"


def _worker_peaks(stop: threading.Event, peaks: dict[int, float]) -> None:
    """Poll /proc for Ray worker processes running our actor; keep each one's VmHWM (MB)."""
    while not stop.is_set():
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    if WORKER_MARK not in handle.read():
                        continue
                with open(f"/proc/{entry.name}/status") as handle:
                    for line in handle:
                        if line.startswith("VmHWM:"):
                            peaks[int(entry.name)] = max(peaks.get(int(entry.name), 0.0), int(line.split()[1]) / 1024)
            except OSError:
                continue
        stop.wait(0.5)


def _output_times(stop: threading.Event, out_dir: Path, start: float, times: dict[str, float]) -> None:
    """When the first output appeared and when the output count last grew (seconds from start)."""
    count = 0
    while not stop.is_set():
        now = sum(1 for p in out_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
        if now > count:
            times.setdefault("first_s", time.perf_counter() - start)
            times["last_s"], times["count_at_first"] = time.perf_counter() - start, times.get("count_at_first", now)
            count = now
        stop.wait(0.2)


def run_aural(args: list[str], temp_dir: Path) -> dict:
    """``aural ARGS`` in a child: exit status, stderr, wall time, the child's peak RSS, the peak
    RSS of every Ray worker seen meanwhile, and when outputs started and stopped appearing."""
    env = {**os.environ, "TMPDIR": str(temp_dir), "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    peaks: dict[int, float] = {}
    times: dict[str, float] = {}
    stop = threading.Event()
    start = time.perf_counter()
    watchers = [threading.Thread(target=_worker_peaks, args=(stop, peaks), daemon=True),
                threading.Thread(target=_output_times, args=(stop, Path(args[args.index("-o") + 1]), start, times),
                                 daemon=True)]
    for watcher in watchers:
        watcher.start()
    process = subprocess.Popen([sys.executable, "-m", "aural", *args], env=env, stderr=subprocess.PIPE, text=True)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall_s = time.perf_counter() - start
    time.sleep(0.3)  # one more look at the outputs
    stop.set()
    for watcher in watchers:
        watcher.join()
    return {"code": os.waitstatus_to_exitcode(status), "stderr": stderr, "wall_s": wall_s,
            "driver_rss_mb": usage.ru_maxrss / 1024, "worker_rss_mb": sorted(peaks.values()), **times}


def outputs(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/aural_scaling"))
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--pipelines", nargs="+", default=["podcast_master", "phone_to_studio"])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    in_dir, temp_dir = args.work / "in", args.work / "tmp"
    temp_dir.mkdir(parents=True)
    good, _ = make_inputs(in_dir, args.files, 0.0)
    print(f"{len(good)} files of 2 s in {in_dir}; load average at start {load_average()}", file=sys.stderr)
    rows = []
    for pipeline in args.pipelines:
        local_out = args.work / f"{pipeline}_local"
        runs = [("local, 1 process", local_out, []),
                ("ray, 1 worker", args.work / f"{pipeline}_ray1", ["--engine", "ray", "--num-workers", "1"]),
                ("ray, 2 workers", args.work / f"{pipeline}_ray2", ["--engine", "ray", "--num-workers", "2"])]
        local = None
        for label, out_dir, extra in runs:
            result = run_aural(["run", pipeline, str(in_dir), "-o", str(out_dir), "-q", *extra], temp_dir)
            written = outputs(out_dir)
            if result["code"] != 0 or len(written) != len(good):
                raise SystemExit(f"{pipeline} {label}: exit {result['code']}, {len(written)} outputs\n"
                                 f"{result['stderr'][-2000:]}")
            if local is None:
                local, local_wall = written, result["wall_s"]
                identical = "(reference)"
            else:
                identical = "yes" if written == local else \
                    f"NO ({sum(written.get(p) != b for p, b in local.items())} differ)"
            workers = result["worker_rss_mb"] or [result["driver_rss_mb"]]
            row = {"pipeline": pipeline, "run": label, "wall_s": round(result["wall_s"], 1),
                   "files_per_s": round(len(good) / result["wall_s"], 2),
                   "worker_rss_mb": [round(w) for w in workers], "driver_rss_mb": round(result["driver_rss_mb"]),
                   "vs_local": round(result["wall_s"] / local_wall, 2), "identical": identical,
                   "first_output_s": round(result["first_s"], 1),
                   "steady_files_per_s": round((len(good) - result["count_at_first"])
                                               / max(result["last_s"] - result["first_s"], 1e-9), 2),
                   "load_average_after": load_average()}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if out_dir != local_out:
                shutil.rmtree(out_dir)
        shutil.rmtree(local_out)

    print(f"| pipeline | run | wall s | files/s | first output s | files/s after first | "
          f"peak RSS per worker MB | driver peak RSS MB | wall vs local | outputs identical to local | "
          f"load avg after |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---|---|")
    for row in rows:
        driver = "(same process)" if row["run"].startswith("local") else row["driver_rss_mb"]
        print(f"| {row['pipeline']} | {row['run']} | {row['wall_s']} | {row['files_per_s']} | "
              f"{row['first_output_s']} | {row['steady_files_per_s']} | "
              f"{', '.join(map(str, row['worker_rss_mb']))} | {driver} | {row['vs_local']}x | {row['identical']} | "
              f"{row['load_average_after']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
