"""How long ``grader stats`` takes on a large class, on SQLite and on PostgreSQL.

    .venv/bin/python bench/stats_speed.py [--students 500] [--repeat 3]

A class is generated into a fresh gradebook (``tests/classgen.py``: every student once, a third
twice, 14 checks each), then timed, the median of ``--repeat`` runs each: the queries alone
(``class_stats``), the page with its five plots (``render_stats_html``), and the whole command
(``grader stats --out``, a fresh process: imports included). PostgreSQL is measured when its
binaries are installed (the test suite's throwaway server, ``tests/pgserver.py``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import classgen  # noqa: E402
import pgserver  # noqa: E402

from grader.gradebook import database_url  # noqa: E402
from grader.reports.analytics.page import render_stats_html  # noqa: E402
from grader.reports.analytics.readonly import ReadOnlyGradebook  # noqa: E402
from grader.reports.analytics.stats import class_stats  # noqa: E402


def _median_seconds(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(url: str, db_option: str, students: int, repeat: int, folder: Path) -> dict:
    started = time.perf_counter()
    generated = classgen.generate(url, students=students)
    filled = time.perf_counter() - started

    def queries():
        with ReadOnlyGradebook(db_option) as gradebook:
            return class_stats(gradebook, "generated")

    figures = queries()
    page = folder / "report.html"
    command = [str(ROOT / ".venv" / "bin" / "grader"), "stats", "generated", "--db", db_option, "--out", str(page)]
    return {"students": students, "runs": generated.runs, "check rows": generated.runs * len(classgen.CHECKS),
            "fill (s)": filled, "queries (s)": _median_seconds(queries, repeat),
            "page with plots (s)": _median_seconds(lambda: render_stats_html(figures), repeat),
            "grader stats --out, whole command (s)": _median_seconds(
                lambda: subprocess.run(command, check=True, capture_output=True), repeat)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        db = folder / "gradebook.db"
        results = {"SQLite": measure(database_url(str(db)), str(db), args.students, args.repeat, folder)}
        reason = pgserver.unavailable()
        if reason:
            print(f"PostgreSQL not measured: {reason}")
        else:
            server = pgserver.PostgresServer(pgserver.find_bindir()).start()
            try:
                url = server.create_database()
                results["PostgreSQL"] = measure(url, url, args.students, args.repeat, folder)
            finally:
                server.stop()
    for name, figures in results.items():
        print(f"{name}:")
        for what, value in figures.items():
            print(f"  {what:40} {value:.3f}" if isinstance(value, float) else f"  {what:40} {value}")


if __name__ == "__main__":
    main()
