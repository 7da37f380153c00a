"""Where the real classes are: the speed targets beyond the perceptron, measured side by side.

    .venv/bin/python bench/targets.py [--quick] [--only NAME ...]

Prints a figure and a PASS/MISS for each target (it is a benchmark, not a test; it always
exits 0). Every figure comes from fresh processes started by this script, one after the other,
so the rows of one run are comparable with each other:

- ``conv``: per-submission time of a class of correct conv submissions against a class of
  correct perceptron submissions (library, one warm grader each): within 1.5x.
- ``training``: 10 correct training submissions with ``grader grade`` at the default ``--jobs``
  against ``--jobs 1``: at least 1.6x faster; the peak memory of a grading worker.
- ``check``: ``grader check perceptron correct.py`` against a bare ``python -c 'import numpy'``
  (medians of interleaved runs): within 2.5x.
- ``overhead``: 1,000 perceptron submissions at ``--jobs 1`` (library): the grader's own time
  per submission, total wall time over the count minus the student's own code: at most 8 ms.
- ``busy``: 200 perceptron submissions at ``--jobs 1`` and ``--jobs 2`` while another process
  keeps one core busy: the speed-up and the overhead per submission under contention.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bytecode import as_users_have_it

from grader.cli import GRADING_PROCESS_THREADS

REPO = Path(__file__).resolve().parent.parent
GRADER = Path(sys.executable).parent / "grader"

# Grade N copies of a sample in one warm grader, in turn as a batch at --jobs 1 is (the next file
# loading while this one's checks run); per submission: wall, duration, student seconds.
LIBRARY = r'''
import json, os, sys, time
from pathlib import Path
from grader.course.assignment import get_assignment
from grader.grading.grader import Grader

def reaped_cpu(pid):
    """CPU seconds of the sandboxes a warm parent has reaped (cutime + cstime in its stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")

repo, assignment, folder = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
files = sorted(folder.iterdir())
with Grader(get_assignment(assignment, repo)) as grader:
    grader.grade_file(files[0], "warm-up")
    warm_parent = grader._forkserver.warm_parent_pid
    sandboxes_before, cpu_before = reaped_cpu(warm_parent), time.process_time()
    started = time.perf_counter()
    results = list(grader.grade_files((path, path.stem) for path in files))  # as `grader grade --jobs 1` does
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    time.sleep(0.2)  # the last sandbox is reaped in the background
    sandboxes = reaped_cpu(warm_parent) - sandboxes_before
print(json.dumps({"wall": wall, "n": len(results), "full": sum(r.score == r.max_score for r in results),
                  "student": sum(r.student_seconds for r in results), "grader_cpu": cpu, "sandbox_cpu": sandboxes,
                  "overheads": [r.duration - r.student_seconds for r in results]}))
'''


def copies(folder: Path, sample: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = sample.read_text()
    for i in range(n):
        (folder / f"s{i:04d}.py").write_text(f"# copy {i}\n{source}")
    return folder


def library(assignment: str, folder: Path) -> dict:
    # The environment ``grader grade`` grades in (its own process at --jobs 1): one OpenBLAS thread.
    done = subprocess.run([sys.executable, "-c", LIBRARY, str(REPO), assignment, str(folder)],
                          capture_output=True, text=True, timeout=3600, env={**GRADING_PROCESS_THREADS, **os.environ})
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.splitlines()[-1])


def timed(command: list[str], **kwargs) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command[:3]} exited {done.returncode}: {done.stderr[-1000:]}")
    return time.perf_counter() - started


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def conv_target(tmp: Path, n: int) -> list[tuple[str, str, str]]:
    per = {}
    for assignment in ("perceptron", "conv"):
        folder = copies(tmp / assignment, REPO / "samples" / assignment / "correct.py", n)
        figure = library(assignment, folder)
        per[assignment] = figure["wall"] / figure["n"]
    ratio = per["conv"] / per["perceptron"]
    return [(f"conv vs perceptron, per submission ({n} each)",
             f"{per['conv'] * 1000:.0f} ms vs {per['perceptron'] * 1000:.0f} ms: {ratio:.2f}x",
             f"<= 1.5x  {verdict(ratio <= 1.5)}")]


def training_target(tmp: Path) -> list[tuple[str, str, str]]:
    folder = copies(tmp / "training", REPO / "samples" / "training" / "correct.py", 10)
    walls = {}
    for jobs in ("1", None):
        db = tmp / f"training-{jobs}.db"
        command = [str(GRADER), "grade", "training", str(folder), "--db", str(db), "--json"]
        if jobs:
            command += ["--jobs", jobs]
        walls[jobs] = timed(command, timeout=3600, cwd=REPO)
    speedup = walls["1"] / walls[None]
    rows = [("10 training submissions: --jobs 1 / default",
             f"{walls['1']:.1f} s / {walls[None]:.1f} s: {speedup:.2f}x", f">= 1.6x  {verdict(speedup >= 1.6)}")]
    peak = worker_memory(folder, tmp)
    rows.append(("  peak memory of one grading worker and its warm parent", f"{peak:.0f} MB", "(info)"))
    return rows


def worker_memory(folder: Path, tmp: Path) -> float:
    """Resident memory (MB) of a worker process and its warm parent, summed at their peak, sampled."""
    process = subprocess.Popen([str(GRADER), "grade", "training", str(folder), "--db", str(tmp / "mem.db"),
                                "--jobs", "2", "--force", "--json"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=REPO)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, max((_tree_rss(pid) for pid in _children(process.pid)), default=0.0))
        time.sleep(0.1)
    return peak


def _children(pid: int) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if int(next(l for l in status.splitlines() if l.startswith("PPid:")).split()[1]) == pid:
            found.append(int(entry))
    return found


def _tree_rss(pid: int) -> float:
    total = 0.0
    for member in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        total += int(next((l.split()[1] for l in status.splitlines() if l.startswith("VmRSS:")), "0")) / 1024
    return total


def check_target(repeat: int) -> list[tuple[str, str, str]]:
    bare, check = [], []
    for _ in range(repeat):
        bare.append(timed([sys.executable, "-c", "import numpy"]))
        check.append(timed([str(GRADER), "check", "perceptron", str(REPO / "samples" / "perceptron" / "correct.py")],
                           cwd=REPO))
    ratio = statistics.median(check) / statistics.median(bare)
    return [("`grader check perceptron` vs `python -c 'import numpy'`",
             f"{statistics.median(check) * 1000:.0f} ms vs {statistics.median(bare) * 1000:.0f} ms: {ratio:.2f}x",
             f"<= 2.5x  {verdict(ratio <= 2.5)}")]


def overhead_target(tmp: Path, n: int) -> list[tuple[str, str, str]]:
    folder = copies(tmp / "overhead", REPO / "samples" / "perceptron" / "correct.py", n)
    figure = library("perceptron", folder)
    per = (figure["wall"] - figure["student"]) / figure["n"] * 1000
    median = statistics.median(figure["overheads"]) * 1000
    # Where the time goes, in CPU time (which a VM's stolen time does not inflate, as it does
    # wall time): the grader's own, and its sandboxes' (made, loaded, checked and torn down).
    return [(f"{n} perceptron submissions, --jobs 1: grader's time per submission",
             f"{per:.1f} ms (wall / n - student; median duration - student {median:.1f} ms)",
             f"<= 8 ms  {verdict(per <= 8)}"),
            ("  CPU per submission: the grader / its sandboxes (student's code)",
             f"{figure['grader_cpu'] / figure['n'] * 1000:.1f} ms / "
             f"{figure['sandbox_cpu'] / figure['n'] * 1000:.1f} ms ({figure['student'] / figure['n'] * 1000:.1f} ms)",
             "(info)")]


def busy_target(tmp: Path, n: int) -> list[tuple[str, str, str]]:
    folder = copies(tmp / "busy", REPO / "samples" / "perceptron" / "correct.py", n)
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        walls = {}
        for jobs in ("1", "2"):
            walls[jobs] = timed([str(GRADER), "grade", "perceptron", str(folder), "--db", str(tmp / f"busy{jobs}.db"),
                                 "--jobs", jobs, "--json"], timeout=3600, cwd=REPO)
    finally:
        loop.kill()
        loop.wait()
    return [(f"busy machine (one core looping): {n} perceptron, --jobs 1 / 2",
             f"{walls['1']:.2f} s / {walls['2']:.2f} s: {walls['1'] / walls['2']:.2f}x; "
             f"{walls['1'] / n * 1000:.1f} / {walls['2'] / n * 1000:.1f} ms per submission", "(info)")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer submissions and repeats (a smoke run)")
    parser.add_argument("--only", nargs="*", choices=["conv", "training", "check", "overhead", "busy"])
    args = parser.parse_args()
    chosen = set(args.only or ["conv", "training", "check", "overhead", "busy"])
    as_users_have_it(REPO)
    tmp = Path(tempfile.mkdtemp(prefix="grader-targets-"))
    rows: list[tuple[str, str, str]] = []
    try:
        subprocess.run([sys.executable, "-c", "import numpy, torch"], check=True)  # a warm page cache for both sides
        if "conv" in chosen:
            rows += conv_target(tmp, 5 if args.quick else 20)
        if "training" in chosen:
            rows += training_target(tmp)
        if "check" in chosen:
            rows += check_target(3 if args.quick else 7)
        if "overhead" in chosen:
            rows += overhead_target(tmp, 100 if args.quick else 1000)
        if "busy" in chosen:
            rows += busy_target(tmp, 50 if args.quick else 200)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    width = max(len(label) for label, _, _ in rows)
    values = max(len(value) for _, value, _ in rows)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for label, value, target in rows:
        print(f"{label:<{width}}  {value:<{values}}  {target}")
    return 0


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted")
    except Exception as failure:  # a benchmark reports, it does not fail the build
        print(f"benchmark could not finish: {type(failure).__name__}: {failure}")
