"""Local grading workers (``--jobs N``): start-up failures, a dying worker, stray output, plain scripts."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ROOT, SAMPLES, write
from procs import children, cmdline
from grader.course.assignment import get_assignment
from grader.grading.batch import Batch
from grader.intake.discover import find_submissions
from grader.cli import cli
from grader.errors import SandboxError
from grader.gradebook import Gradebook
from grader.grading.grader import Grader
from grader.grading.jobs import allowed_cpus
from grader.grading.pool import WorkerPool
from grader.sandbox.forkserver import ForkServer

CORRECT = (SAMPLES / "perceptron" / "correct.py").read_text()


def _submissions(folder: Path, count: int, prefix: str = "") -> Path:
    for i in range(count):
        write(folder / f"s{i:02d}.py", f"{prefix}# student {i}\n{CORRECT}")
    return folder


def _stored_runs(db: Path) -> list[tuple[str, int]]:
    """(student, number of check rows) of every stored run."""
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(
                "select s.name, (select count(*) from check_results c where c.run_id = r.id) from grading_runs r "
                "join submissions sub on r.submission_id = sub.id join students s on sub.student_id = s.id").fetchall()
        except sqlite3.OperationalError:  # its tables are not there yet
            return []


def test_a_broken_reference_stops_the_batch_in_one_line_before_anything_is_stored(make_course, tmp_path):
    course = make_course()
    write(course / "reference" / "perceptron.py", "import numpy as np\nraise RuntimeError('half-edited')\n")
    db = tmp_path / "g.db"
    result = CliRunner().invoke(cli, ["--course", str(course), "grade", "perceptron",
                                      str(_submissions(tmp_path / "subs", 3)), "--db", str(db), "--jobs", "2"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("AssignmentError: ")
    assert "perceptron.py failed to import: RuntimeError: half-edited" in lines[0]
    assert not db.exists() or _stored_runs(db) == []


def test_a_worker_killed_mid_batch_is_replaced_and_its_submissions_are_graded_by_the_next(tmp_path):
    # A slow top level keeps the batch running long enough to kill one of its workers.
    subs = _submissions(tmp_path / "subs", 12, prefix="import time\ntime.sleep(0.3)\n")
    db = tmp_path / "g.db"
    command = [str(Path(sys.executable).parent / "grader"), "grade", "perceptron", str(subs),
               "--db", str(db), "--jobs", "2"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = []
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = [pid for pid in children(process.pid) if b"grader.grading.worker" in cmdline(pid)]
        time.sleep(0.05)
    assert len(workers) == 2
    while not db.exists() or not _stored_runs(db):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    os.kill(workers[0], signal.SIGKILL)
    out, err = process.communicate(timeout=90)
    assert process.returncode == 0, (out, err)
    runs = _stored_runs(db)
    assert sorted(student for student, _ in runs) == sorted(p.stem for p in subs.iterdir())  # each one, once
    every_check = len(get_assignment("perceptron", ROOT).checks)
    assert all(checks == every_check for _, checks in runs)  # each stored run is complete
    with Gradebook.open(str(db)) as gradebook:
        assert all(r.status == "graded" and r.score == r.max_score for r in gradebook.latest("perceptron"))


def _grading_worker(coordinator: int) -> int | None:
    """The worker grading the slow file: its warm parent has one sandbox more than the others'
    (where sandboxes are made ahead, every warm parent keeps one waiting for the next file)."""
    sandboxes = {}
    for worker in children(coordinator):
        if b"grader.grading.worker" in cmdline(worker):
            sandboxes[worker] = sum(len(children(zygote)) for zygote in children(worker)
                                    if b"grader.sandbox.zygote" in cmdline(zygote))
    if not sandboxes:
        return None
    most = max(sandboxes.values())
    busiest = [worker for worker, count in sandboxes.items() if count == most]
    return busiest[0] if most > 0 and len(busiest) == 1 else None


def test_a_file_that_two_workers_die_on_is_the_graders_error_and_the_batch_goes_on(tmp_path):
    subs = tmp_path / "subs"
    write(subs / "fast.py", CORRECT)
    write(subs / "slow.py", f"import time\ntime.sleep(6)\n{CORRECT}")
    db = tmp_path / "g.db"
    process = subprocess.Popen([str(Path(sys.executable).parent / "grader"), "grade", "perceptron", str(subs),
                                "--db", str(db), "--jobs", "2", "--json"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    for _ in range(2):  # the first worker on slow.py, then the one that takes it over
        time.sleep(1.5)  # fast.py is done by then; only slow.py's sandbox is alive
        worker = None
        while worker is None:
            assert time.monotonic() < deadline and process.poll() is None
            worker = _grading_worker(process.pid)
            time.sleep(0.05)
        os.kill(worker, signal.SIGKILL)
    out, err = process.communicate(timeout=60)
    results = {line["student"]: line for line in map(json.loads, out.splitlines())}
    assert results["fast"]["status"] == "graded" and results["fast"]["score"] == 32.0
    slow = results["slow"]
    assert (slow["status"], slow["fault"], slow["score"]) == ("error", "grader", 0.0), slow
    assert slow["error"].startswith("a grading worker stopped twice while grading this file (killed by SIGKILL)")
    assert {c["reason"] for c in slow["checks"]} == {"grader_error"}


def test_checks_that_print_do_not_disturb_the_workers(make_course, tmp_path):
    course = make_course()
    checks = course / "assignments" / "perceptron" / "checks.py"
    checks.write_text(checks.read_text().replace('"""\n', '"""\nprint("debugging the checks", flush=True)\n', 1))
    done = subprocess.run([str(Path(sys.executable).parent / "grader"), "--course", str(course), "grade", "perceptron",
                           str(_submissions(tmp_path / "subs", 4)), "--db", str(tmp_path / "g.db"), "--jobs", "2",
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["score"] for line in done.stdout.splitlines()] == [32.0] * 4  # nothing else on stdout
    assert "debugging the checks" in done.stderr  # the workers' own prints go to stderr


def test_grade_batch_with_two_jobs_works_from_a_plain_script(tmp_path):
    # multiprocessing's spawn would re-run this script in every worker and fail without a __main__ guard.
    subs = _submissions(tmp_path / "subs", 3)
    script = write(tmp_path / "grade_all.py", textwrap.dedent(f"""
        from pathlib import Path
        from grader.course.assignment import get_assignment
        from grader.grading.batch import grade_batch
        from grader.intake.discover import find_submissions

        spec = get_assignment("perceptron", Path({str(ROOT)!r}))
        files = find_submissions([Path({str(subs)!r})], spec.module)
        print(sorted(r.score for r in grade_batch(spec, files, course_root=Path({str(ROOT)!r}),
                                                  gradebook=None, jobs=2)))
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[32.0, 32.0, 32.0]"


def test_stopping_early_kills_the_workers(tmp_path):
    spec = get_assignment("perceptron", ROOT)
    files = find_submissions([_submissions(tmp_path / "subs", 6)], spec.module)
    batch = Batch(spec, files, course_root=ROOT, jobs=2).start()
    workers = [w.process for w in batch._pool._workers]  # noqa: SLF001 - what the test watches
    stream = batch.results(None)
    assert next(stream).score == 32.0
    stream.close()  # the consumer stops (as Ctrl-C does)
    assert all(process.poll() is not None for process in workers)
    batch.close()


def test_a_grader_required_to_isolate_refuses_a_host_without_the_layers():
    spec = get_assignment("perceptron", ROOT)
    with ForkServer((), isolate=False) as bare:
        with pytest.raises(SandboxError, match="--insecure"):
            Grader(spec, forkserver=bare, require_isolation=True).start()
        with Grader(spec, forkserver=bare) as grader:  # a student's check runs anyway
            assert grader.missing_layers


def test_the_command_line_loads_numpy_sqlalchemy_and_rich_only_when_a_command_needs_them():
    probe = ("import sys, grader.cli; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'sqlalchemy', 'rich', 'torch'}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_first_submissions_are_handed_out_before_the_gradebook_is_read(tmp_path):
    spec = get_assignment("perceptron", ROOT)
    files = find_submissions([_submissions(tmp_path / "subs", 6)], spec.module)
    with Batch(spec, files, course_root=ROOT, jobs=2) as batch:
        handed_out = [file for worker in batch._pool._workers for _, file in worker.in_flight]  # noqa: SLF001
        assert sorted(f.student for f in handed_out) == ["s00", "s01", "s02", "s03"]
        assert sorted(r.student for r in batch.results(None)) == [f"s{i:02d}" for i in range(6)]


def test_a_worker_handed_a_submission_graded_before_is_replaced_instead_of_grading_it(tmp_path):
    # It could be stuck in it for as long as its time limits allow (an infinite loop in every check).
    spec = get_assignment("perceptron", ROOT)
    subs = _submissions(tmp_path / "subs", 5)
    with Gradebook.open(str(tmp_path / "g.db")) as gradebook:
        # Handed out a file per worker first, then one more each: s00 and s02 to the first, s01
        # and s03 to the second.
        graded = [f for f in find_submissions([subs], spec.module) if f.student in ("s00", "s02")]
        assert len(list(Batch(spec, graded, course_root=ROOT, jobs=1).start().results(gradebook))) == 2
        with Batch(spec, find_submissions([subs], spec.module), course_root=ROOT, jobs=2) as batch:
            first, second = (w.process for w in batch._pool._workers)  # noqa: SLF001 - what the test watches
            results = list(batch.results(gradebook))
        assert first.poll() == -signal.SIGKILL  # it held s00 and s02
        assert second.poll() == 0  # it held s01 and s03, both new: it graded them and closed
        assert sorted((r.student, r.cached) for r in results) == [
            ("s00", True), ("s01", False), ("s02", True), ("s03", False), ("s04", False)]


def test_submissions_handed_out_early_but_graded_before_are_neither_stored_nor_reported_twice(tmp_path):
    subs = _submissions(tmp_path / "subs", 4)
    db = tmp_path / "g.db"
    grade = ["grade", "perceptron", str(subs), "--db", str(db), "--jobs", "2"]
    assert CliRunner().invoke(cli, grade).exit_code == 0
    write(subs / "s04.py", f"# student 4\n{CORRECT}")  # sorts last: the workers start on s00-s03, all graded

    again = CliRunner().invoke(cli, grade)
    assert again.exit_code == 0, again.output
    assert "1 graded, 4 unchanged since their last grading" in again.output
    runs = sorted(_stored_runs(db))
    assert [student for student, _ in runs] == [f"s{i:02d}" for i in range(5)]  # one run each
    assert len({checks for _, checks in runs}) == 1 and runs[0][1] > 0  # each with every check

    unchanged = CliRunner().invoke(cli, grade)
    assert unchanged.exit_code == 0, unchanged.output
    assert "0 graded, 5 unchanged" in unchanged.output
    assert len(_stored_runs(db)) == 5


def test_workers_run_numpy_and_torch_on_one_thread_unless_told_otherwise(make_course, tmp_path):
    # --jobs already keeps every core busy: a BLAS or OpenMP pool per worker would fight over them.
    course = make_course()
    checks = course / "assignments" / "perceptron" / "checks.py"
    checks.write_text(checks.read_text().replace('"""\n', '"""\nimport os\nprint("worker threads:", os.environ.get('
                                                 '"OMP_NUM_THREADS"), os.environ.get("OPENBLAS_NUM_THREADS"))\n', 1))
    environment = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run([str(Path(sys.executable).parent / "grader"), "--course", str(course), "grade", "perceptron",
                           str(_submissions(tmp_path / "subs", 2)), "--db", str(tmp_path / "g.db"), "--jobs", "2"],
                          capture_output=True, text=True, timeout=120, env={**environment, "OMP_NUM_THREADS": "3"})
    assert done.returncode == 0, done.stderr
    assert "worker threads: 3 1" in done.stderr


def _affinity_of(pid: int) -> set[int] | None:
    try:
        return os.sched_getaffinity(pid)
    except ProcessLookupError:  # a sandbox that ended meanwhile
        return None


def _descendants(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        found += [child, *_descendants(child)]
    return found


@pytest.mark.skipif(len(allowed_cpus()) < 2, reason="needs two CPUs")
def test_with_a_worker_per_cpu_each_worker_its_warm_parent_and_sandboxes_keep_to_one_cpu(tmp_path):
    spec = get_assignment("perceptron", ROOT)
    cpus = allowed_cpus()
    files = find_submissions([_submissions(tmp_path / "subs", len(cpus) + 1)], spec.module)
    with Batch(spec, files, course_root=ROOT, jobs=len(cpus)) as batch:
        stream = batch.results(None)
        next(stream)  # every worker has started by now, and its warm parent
        workers = [w.process.pid for w in batch._pool._workers]  # noqa: SLF001 - what the test watches
        pinned = [_affinity_of(pid) for pid in workers]
        below = [(_affinity_of(child), _affinity_of(pid)) for pid in workers for child in _descendants(pid)]
        below = [child == worker for child, worker in below if child is not None]
        list(stream)
    assert sorted(cpu for cpus_of in pinned for cpu in cpus_of) == cpus  # one CPU each, all different
    assert below and all(below)  # warm parents (and any sandbox alive then) inherited it


@pytest.mark.skipif(len(allowed_cpus()) < 2, reason="needs two CPUs")
@pytest.mark.parametrize("more", [-1, +1], ids=["fewer workers than CPUs", "more workers than CPUs"])
def test_workers_are_left_for_the_kernel_to_place_unless_there_is_one_per_cpu(tmp_path, more):
    # Two runs of fewer workers than CPUs would otherwise both be pinned to the first CPUs.
    spec = get_assignment("perceptron", ROOT)
    size = len(allowed_cpus()) + more
    files = find_submissions([_submissions(tmp_path / "subs", size)], spec.module)
    seen = []
    pool = WorkerPool(spec, workers=size, course_root=ROOT).start(likely=files)
    try:
        for _ in pool.grade(files):
            if not seen and all(w.ready for w in pool._workers):  # noqa: SLF001 - each has read its configuration
                seen = [_affinity_of(w.process.pid) for w in pool._workers]  # noqa: SLF001
    finally:
        pool.close()
    assert len(seen) == size and all(cpus == set(allowed_cpus()) for cpus in seen)


def test_the_default_jobs_follow_the_batch_size_and_the_assignments_start_up(perceptron, course_root):
    from grader.course.assignment import get_assignment
    from grader.grading.jobs import SMALL_BATCH, default_jobs

    cpus = len(allowed_cpus())
    training = get_assignment("training", course_root)  # warm imports torch: seconds per submission
    assert default_jobs(perceptron, SMALL_BATCH["numpy"] - 1) == 1
    assert default_jobs(perceptron, SMALL_BATCH["numpy"]) == cpus
    assert default_jobs(training, 1) == 1 and default_jobs(training, SMALL_BATCH["torch"]) == cpus


def test_a_grader_imports_the_reference_only_when_the_checks_ask_it(course_root):
    """lenet's checks score logits against hidden labels and never ask the reference: its grading
    process must not pay for importing torch (seconds, hundreds of MB per worker)."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from grader.course.assignment import get_assignment
        from grader.grading.grader import Grader
        for name in ("lenet", "perceptron"):
            spec = get_assignment(name, Path({str(course_root)!r}))
            with Grader(spec):
                pass
            print(name, spec.checks_use_reference, "torch" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["lenet False False", "perceptron True False"]


def test_a_worker_with_threads_grades_several_at_once_and_answers_as_they_finish(tmp_path):
    # One process, two threads sharing its grader and warm parent: the slow first file does not
    # hold up the rest, and every result is what grading alone gives.
    spec = get_assignment("perceptron", ROOT)
    folder = tmp_path / "subs"
    write(folder / "a_slow.py", "import time\ntime.sleep(1.5)\n" + CORRECT)
    _submissions(folder, 4)
    write(folder / "wrong.py", CORRECT.replace("np.asarray(z) > 0, 1, 0) if np.ndim(z) else int(z > 0)",
                                               "np.asarray(z) >= 0, 1, 0) if np.ndim(z) else int(z >= 0)"))
    files = find_submissions([folder], spec.module)
    pool = WorkerPool(spec, workers=2, course_root=ROOT, threads=2).start(likely=files)
    try:
        assert pool.size == 1 and pool.threads == 2
        finished = [(file.student, result) for file, result in pool.grade(files)]
    finally:
        pool.close()
    order = [student for student, _ in finished]
    assert sorted(order) == sorted(file.student for file in files)
    assert order.index("a_slow") > 0  # answered after files handed out behind it
    with Grader(spec) as alone:
        for student, result in finished:
            expected = alone.grade_file(folder / f"{student}.py", student)
            assert [(c.name, c.score, c.message) for c in result.checks] == \
                   [(c.name, c.score, c.message) for c in expected.checks], student
    scores = {student: (result.score, result.max_score) for student, result in finished}
    assert scores["wrong"][0] < scores["wrong"][1] and scores["a_slow"][0] == scores["a_slow"][1]


def test_a_torch_assignment_grades_its_jobs_in_threads_of_fewer_processes(course_root):
    from grader.grading.jobs import TORCH_THREADS, threads_per_worker

    training = get_assignment("training", course_root)
    perceptron = get_assignment("perceptron", course_root)
    assert threads_per_worker(training, 2) == 2 and threads_per_worker(training, 9) == TORCH_THREADS
    assert threads_per_worker(perceptron, 8) == 1
    nine = WorkerPool(training, workers=9, course_root=course_root)
    assert nine.size == -(-9 // TORCH_THREADS) and sum(nine._shares) == 9  # noqa: SLF001 - 9 at once, not 12
    assert max(nine._shares) - min(nine._shares) <= 1  # noqa: SLF001
    assert WorkerPool(perceptron, workers=3, course_root=course_root).size == 3


@pytest.mark.parametrize("workers, threads", [(2, 1), (2, 2), (1, 1)],
                         ids=["a process per job", "threads in one worker", "one worker, files waiting behind"])
def test_a_check_that_exits_ends_its_worker_and_only_that_file_is_lost(make_course, tmp_path, workers, threads):
    # A grading thread that stopped would leave its file unanswered for ever; its worker ends
    # instead, the file is tried once more, and then it is the grader's error. The rest is graded.
    course = make_course()
    checks = course / "assignments" / "perceptron" / "checks.py"
    checks.write_text(checks.read_text() + textwrap.dedent('''
        @check(points=1, visibility="public")
        def exits_for_one_student(ctx):
            """A broken check."""
            if ctx.student_id == "a_exits":
                raise SystemExit(3)
        '''))
    spec = get_assignment("perceptron", course)
    folder = tmp_path / "subs"
    for name in ("a_exits", "b_ok", "z_ok"):  # a_exits first: the others wait behind it, or beside it
        write(folder / f"{name}.py", CORRECT)
    files = find_submissions([folder], spec.module)
    pool = WorkerPool(spec, workers=workers, course_root=course, threads=threads).start(likely=files)
    try:
        results = {file.student: result for file, result in pool.grade(files)}
    finally:
        pool.close()
    assert results["b_ok"].score == results["b_ok"].max_score == results["z_ok"].score
    assert (results["a_exits"].status, results["a_exits"].fault) == ("error", "grader")
    assert results["a_exits"].error.startswith("a grading worker stopped twice while grading this file")


def test_a_batch_of_one_file_per_job_is_graded_all_at_once(tmp_path):
    # Each worker gets a file before any gets a second to wait behind it.
    spec = get_assignment("perceptron", ROOT)
    files = find_submissions([_submissions(tmp_path / "subs", 3)], spec.module)
    for likely in (files, []):
        pool = WorkerPool(spec, workers=3, course_root=ROOT).start(likely=likely)
        try:
            if likely:
                assert [len(w.in_flight) for w in pool._workers] == [1, 1, 1]  # noqa: SLF001
            graded = list(pool.grade(files))
            assert all(len(w.in_flight) == 0 for w in pool._workers)  # noqa: SLF001
        finally:
            pool.close()
        assert sorted(f.student for f, _ in graded) == ["s00", "s01", "s02"]
