"""The ``grader`` command: a thin layer over the library that formats what it returns.

Each command imports what it uses when it runs (rich, SQLAlchemy, numpy take ~0.4 s together):
``grader grade`` starts its grading workers first, so their start-up overlaps those imports.
"""

from __future__ import annotations

import atexit
import os
import sys

from grader.cli.app import EXIT_OK, cli

#: Set (unless the user did) before numpy loads: at ``--jobs 1`` this process grades, and numpy's
#: OpenBLAS, on small arrays, leaves a thread spinning after each call on the core the sandboxes
#: run on (one thread: 20.8 -> 19.8 ms per perceptron submission). Not torch's threads: a torch
#: assignment's reference runs here, and two threads do it 4% faster.
GRADING_PROCESS_THREADS = {"OPENBLAS_NUM_THREADS": "1"}

# Each command's module loads when that command runs (``module:attribute``): ``grader check``
# does not pay for the imports of twenty other commands.
cli.lazy_commands.update({
    "list": "grader.cli.course:list_command", "check": "grader.cli.check:check", "grade": "grader.cli.grade:grade",
    "regrade": "grader.cli.regrade:regrade", "export": "grader.cli.reports:export",
    "feedback": "grader.cli.reports:feedback_command", "release": "grader.cli.course:release",
    "new": "grader.cli.course:new", "validate": "grader.cli.course:validate",
    "gradescope": "grader.cli.gradescope:gradescope", "prairielearn": "grader.cli.platforms:prairielearn",
    "classroom": "grader.cli.platforms:classroom", "stats": "grader.cli.analytics:stats",
    "similar": "grader.cli.analytics:similar", "leaderboard": "grader.cli.leaderboard:leaderboard",
    "db": "grader.cli.db:db", "doctor": "grader.cli.doctor:doctor",
})


def main() -> None:
    """The console command. It ends without the interpreter's teardown of numpy, SQLAlchemy and
    rich (~0.1 s of freeing objects one by one, on every run): each command has closed what it
    opened by the time it returns (gradebook sessions, workers, warm parents), so what is left
    is running the exit handlers and flushing the output."""
    for name, value in GRADING_PROCESS_THREADS.items():
        os.environ.setdefault(name, value)
    try:
        cli(prog_name="grader")
        code = EXIT_OK
    except SystemExit as exit:
        code = exit.code
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if not isinstance(code, int) or run_exit_handlers is None:
        sys.exit(code)
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (grader export | head), a closed stream
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
