"""The plan of a grading run: the one file graded for each student, and why; every file left
out, and why; what the TA should know first.

One rule set decides, per student, among the files a layout attributes to them:

1. a ``.py`` byte for byte the released stub is left out when the student has other files;
2. of files with the same content, one is kept (named after the module first, then the newest);
3. of a file uploaded again (same name but for Canvas's ``-N``), the newest upload wins:
   the highest Canvas file id (Canvas numbers files in upload order), then the highest ``-N``;
4. files named after the module (or a student's own top-level file) win over other files
   beside them (``walt/scratch.py``);
5. a ``.py`` and a ``.ipynb`` of the module in the same folder: the ``.py`` is graded (students
   get both from ``grader release`` and write in one; an unchanged stub was left out by rule 1),
   with a warning;
6. if more than one file is still left (two unrelated ``.py`` files in a folder, or ``ann.py``
   beside ``ann/perceptron.ipynb``), the submission is ambiguous: the student gets one ``error``
   result saying which files to rename, and the rest of the class is graded.

Ids: a layout's LMS id (Canvas user, Moodle participant, Gradescope submitter) is kept; a
manifest row naming a file gives that file's student; ``--roster`` maps names (file and folder
names, LMS names) to the roster's ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from grader.errors import UsageError
from grader.intake.archives import ArchiveLimits, Unpacked, default_folder, unpack
from grader.intake.discover import SubmissionFile, student_id
from grader.intake.findings import Ignored, Notice, shown_path
from grader.intake.layouts import Candidate, Scan, scan
from grader.intake.roster import Roster, read_roster
from grader.intake.submission import SubmissionTooLarge, content_hash, read_bounded
from grader.intake.times import Manifest, read_manifest, with_submission_times
from grader.text import clean_name


@dataclass
class Source:
    """One path the TA named, and how it was read."""

    path: Path
    #: The layout it was read as (``plain``, ``canvas``, ...).
    layout: str
    #: The folder read: the path itself, its unpacked archive, or a folder inside that.
    root: Path
    unpacked: Unpacked | None = None


@dataclass
class Plan:
    """What a grading run will grade."""

    #: One per student, by student id; those with ``problem`` become error results.
    files: list[SubmissionFile] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    #: How each file is shown (relative to the folder named), by path.
    shown: dict[Path, str] = field(default_factory=dict)

    @property
    def gradable(self) -> list[SubmissionFile]:
        return [f for f in self.files if f.problem is None]

    @property
    def problems(self) -> list[SubmissionFile]:
        return [f for f in self.files if f.problem is not None]


def plan_submissions(paths, *, module: str, assignment: str = "", layout: str = "auto",
                     roster: Roster | Path | None = None, manifest: Manifest | Path | None = None,
                     submitted_at: datetime | None = None, stub: bytes | None = None,
                     unpack_to: Path | None = None, late_penalties: bool = True, times: bool = True,
                     limits: ArchiveLimits = ArchiveLimits()) -> Plan:
    """Read ``paths`` (files, folders, ``.zip`` archives) and decide what to grade (see the rules above).
    ``times=False`` leaves submission times as the layout found them (none from files' times)."""
    if roster is not None and not isinstance(roster, Roster):
        roster = read_roster(roster)
    if manifest is not None and not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    plan = Plan()
    scans = [_read_source(Path(p), plan, module=module, assignment=assignment, layout=layout,
                          unpack_to=unpack_to, limits=limits) for p in paths]
    candidates = _unique(scans, plan)
    if manifest is not None:
        _rename_by_manifest(candidates, manifest)
    if roster is not None:
        _map_by_roster(candidates, roster, plan)
    by_student: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_student.setdefault(candidate.student, []).append(candidate)
    chosen = [_choose(student, group, module=module, stub=stub, plan=plan)
              for student, group in sorted(by_student.items())]
    chosen += _nothing_to_grade(plan, set(by_student))
    gradable = [f for f in chosen if f.problem is None]
    if times:
        gradable = with_submission_times(gradable, submitted_at=submitted_at, manifest=manifest)
    plan.files = gradable + [f for f in chosen if f.problem is not None]
    plan.files.sort(key=lambda f: f.student)
    _report_times(plan, manifest, late_penalties, submitted_at)
    if roster is not None:
        _report_roster(plan, roster)
    return plan


def _read_source(path: Path, plan: Plan, *, module: str, assignment: str, layout: str, unpack_to: Path | None,
                 limits: ArchiveLimits) -> Scan:
    absolute = path.resolve()  # stored paths must still make sense from another folder
    if absolute.is_file() and absolute.suffix.lower() == ".zip":
        unpacked = unpack(absolute, into=default_folder(absolute, unpack_to), limits=limits)
        found = scan(unpacked.root, module, layout=layout, assignment=assignment,
                     base=absolute.parent if unpack_to is None else unpacked.root.parent, unpacked=True)
        _report_unpacked(plan, absolute, unpacked, found)
        plan.sources.append(Source(absolute, found.layout, found.root, unpacked))
        return found
    if absolute.is_file():
        found = Scan("plain", absolute.parent)
        found.candidate(absolute, student_id(absolute.stem), id_from="name", whole=True, own_file=True,
                        slot=absolute.parent,
                        why="named on the command line")
    elif absolute.is_dir():
        found = scan(absolute, module, layout=layout, assignment=assignment)
    else:
        raise UsageError(f"{clean_name(str(path))}: no such file or folder")
    plan.sources.append(Source(absolute, found.layout, found.root))
    return found


def _report_unpacked(plan: Plan, archive: Path, unpacked: Unpacked, found: Scan) -> None:
    where = shown_path(unpacked.root, archive.parent)
    verb = "reused the earlier unpacking of" if unpacked.reused else "unpacked"
    plan.notices.append(Notice("unpacked", f"{verb} {clean_name(archive.name)} into {where}/ ({unpacked.files} files, "
                                           f"read as {found.layout})", file=clean_name(archive.name)))
    for refused in unpacked.refused:
        plan.ignored.append(Ignored(unpacked.root, "refused", f"not unpacked: {refused.reason}",
                                    shown=f"{clean_name(archive.name)}: {refused.name}"))
    for stored, original in unpacked.renamed.items():
        plan.notices.append(Notice("renamed", f"{clean_name(archive.name)}: the member {original} was stored as "
                                              f"{where}/{clean_name(stored)} (its name was not safe to use)",
                                   file=f"{where}/{clean_name(stored)}"))


def _unique(scans: list[Scan], plan: Plan) -> list[Candidate]:
    seen: set[tuple[Path, str]] = set()
    candidates = []
    for found in scans:
        plan.ignored.extend(found.ignored)
        plan.notices.extend(found.notices)
        for candidate in found.candidates:
            key = (candidate.path, candidate.student)
            if key in seen:
                plan.ignored.append(Ignored(candidate.path, "listed_twice", "named twice (a folder and a file in "
                                                                            "it?): graded once", candidate.student,
                                            candidate.shown))
                continue
            seen.add(key)
            candidates.append(candidate)
            plan.shown[candidate.path] = candidate.shown
    return candidates


def _rename_by_manifest(candidates: list[Candidate], manifest: Manifest) -> None:
    """A manifest row naming a file gives that file its student: the row's, when the file's name
    is the row's and no other file of that name could be meant."""
    for row in manifest.rows:
        if not row.file:
            continue
        named = [c for c in candidates if c.path.name == row.file]
        if any(c.student == row.student for c in named) or len(named) != 1:
            continue
        named[0].student, named[0].id_from = row.student, "manifest"
        named[0].why += f"; the student named by the manifest (line {row.line})"


def _map_by_roster(candidates: list[Candidate], roster: Roster, plan: Plan) -> None:
    unmatched: dict[str, Candidate] = {}
    for candidate in candidates:
        if candidate.id_from == "manifest" or candidate.student in roster.students:
            continue
        found = roster.id_for(candidate.student) if candidate.id_from == "name" else None
        found = found or (roster.id_for(candidate.name) if candidate.name else None)
        if found is None:
            unmatched.setdefault(candidate.student, candidate)
            continue
        candidate.why += f"; {clean_name(candidate.student)} is {clean_name(roster.students[found])} on the roster"
        candidate.student, candidate.name, candidate.id_from = found, roster.students[found], "roster"
    for student, candidate in unmatched.items():
        plan.notices.append(Notice("roster_unmatched", f"{clean_name(student)} is not on the roster "
                                                       f"{clean_name(roster.path.name)} (by id or by name): graded "
                                                       "under that id", student, candidate.shown))


def _bytes(path: Path) -> bytes | None:
    try:
        return read_bounded(path)
    except (OSError, SubmissionTooLarge):
        return None


def _choose(student: str, group: list[Candidate], *, module: str, stub: bytes | None, plan: Plan) -> SubmissionFile:
    pool = sorted(group, key=lambda c: c.shown)
    notes: list[str] = []

    def leave_out(candidate: Candidate, kind: str, reason: str) -> None:
        pool.remove(candidate)
        plan.ignored.append(Ignored(candidate.path, kind, reason, student, candidate.shown))

    if len(pool) > 1:  # rule 1: the untouched stub
        stubs = [c for c in pool if stub is not None and c.path.suffix == ".py" and _bytes(c.path) == stub]
        for candidate in stubs[:len(pool) - 1]:
            leave_out(candidate, "stub", "the unchanged starting file, as grader release wrote it")
        if stubs:
            notes.append("the unchanged stub beside it left out")
    if len(pool) > 1:  # rule 2: copies
        digests: dict[str, Candidate] = {}
        for candidate in sorted(pool, key=lambda c: (not c.whole, tuple(-v for v in c.version), c.shown)):
            data = _bytes(candidate.path)
            digest = content_hash(data) if data is not None else f"unread:{candidate.path}"
            if digest in digests:
                leave_out(candidate, "duplicate", f"the same content as {digests[digest].shown}")
            else:
                digests[digest] = candidate
    if len(pool) > 1:  # rule 3: uploaded again
        newest: dict[str, Candidate] = {}
        for candidate in [c for c in pool if c.version]:
            best = newest.get(candidate.base)
            if best is None or candidate.version > best.version:
                newest[candidate.base] = candidate
        for candidate in [c for c in pool if c.version and newest[c.base] is not c]:
            best = newest[candidate.base]
            leave_out(candidate, "older", f"an older upload of {clean_name(best.base)}: {best.shown} is newer"
                                          f" (Canvas file {best.version[0]} after {candidate.version[0]})")
            notes.append(f"the newest upload of {clean_name(best.base)}")
    whole = [c for c in pool if c.whole]
    if whole and len(whole) < len(pool):  # rule 4: the module's file over others beside it
        for candidate in [c for c in pool if not c.whole]:
            leave_out(candidate, "not_the_submission", f"another file beside the submission "
                                                       f"({', '.join(w.shown for w in whole)})")
    if len(pool) == 2 and pool[0].slot == pool[1].slot and {c.path.suffix for c in pool} == {".py", ".ipynb"}:
        python, notebook = sorted(pool, key=lambda c: c.path.suffix != ".py")  # rule 5
        leave_out(notebook, "pair", f"{python.shown} beside it is graded (a .py over a .ipynb)")
        plan.notices.append(Notice("pair", f"{clean_name(student)} has both {python.shown} and {notebook.shown}: "
                                           f"graded {clean_name(python.path.name)} (a .py over a .ipynb); delete "
                                           "the other to silence this", student, python.shown))
        notes.append(f"over {clean_name(notebook.path.name)} beside it")
    if len(pool) == 1:
        return _chosen(pool[0], notes, module)
    return _ambiguous(student, pool, module, plan)


#: Files that show a student handed in something, though nothing that can be graded.
_HANDED_IN = ("not_a_submission", "archive", "online_text")


def _nothing_to_grade(plan: Plan, students: set[str]) -> list[SubmissionFile]:
    """An error for each student the layout knows who handed in files, but no .py or .ipynb:
    a 0 that says why, rather than a student missing from the gradebook."""
    handed_in: dict[str, list[Ignored]] = {}
    for item in plan.ignored:
        if item.student is not None and item.student not in students and item.kind in _HANDED_IN:
            handed_in.setdefault(item.student, []).append(item)
    files = []
    for student, items in sorted(handed_in.items()):
        names = ", ".join(i.shown for i in items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
        problem = f"no .py or .ipynb file was handed in (only {names}); submit the module as a .py or .ipynb file"
        plan.notices.append(Notice("nothing_to_grade", f"{clean_name(student)}: {problem}", student, items[0].shown))
        files.append(SubmissionFile(items[0].path, student, reason="nothing to grade", problem=problem,
                                    problem_files=tuple(i.path for i in items if i.path.is_file())))
        plan.shown.setdefault(items[0].path, items[0].shown)
    return files


def _chosen(candidate: Candidate, notes: list[str], module: str) -> SubmissionFile:
    if candidate.own_file:
        what = candidate.why
    elif candidate.whole:
        what = f"{candidate.why}: named after the module {module}"
    else:
        what = f"{candidate.why}: the only .py or .ipynb file"
    reason = "; ".join([what] + notes)
    return SubmissionFile(candidate.path, candidate.student, submitted_at=candidate.submitted_at,
                          submitted_at_source=candidate.submitted_at_source, late_by_lms=candidate.late_by_lms,
                          use_file_time=candidate.use_file_time, reason=reason, name=candidate.name)


def _ambiguous(student: str, pool: list[Candidate], module: str, plan: Plan) -> SubmissionFile:
    names = ", ".join(c.shown for c in pool)
    if all(c.whole for c in pool):
        problem = (f"{len(pool)} files are each this student's submission ({names}): keep one, delete or move "
                   "the others, and grade again")
    else:
        problem = (f"{len(pool)} files could each be the submission ({names}): keep the one to grade, named "
                   f"{module}.py or {module}.ipynb, delete or rename the others, and grade again")
    plan.notices.append(Notice("ambiguous", f"{clean_name(student)}: {problem}", student, pool[0].shown))
    slots = {c.slot for c in pool}
    if len(slots) == 1 and pool[0].slot is not None:  # one folder: the error is about the folder
        where, shown = pool[0].slot, pool[0].shown.rpartition("/")[0] + "/"
    else:
        where, shown = pool[0].path, pool[0].shown
    plan.shown.setdefault(where, shown)
    return SubmissionFile(where, student, reason="ambiguous", name=pool[0].name, problem=problem,
                          problem_files=tuple(c.path for c in pool))


def _report_times(plan: Plan, manifest: Manifest | None, late_penalties: bool, submitted_at: datetime | None) -> None:
    for file in plan.gradable:
        if late_penalties and file.late_by_lms and file.submitted_at_source in (None, "mtime"):
            plan.notices.append(Notice("late_without_time", f"{clean_name(file.student)}: the LMS marks it LATE "
                                                            "without saying when, so no late penalty is applied; "
                                                            "give its time with --manifest", file.student,
                                       plan.shown.get(file.path)))
    if manifest is None or submitted_at is not None:
        return
    graded = {f.student: f for f in plan.files}
    for row in manifest.rows:
        file = graded.get(row.student)
        if file is not None and file.problem is None and manifest.row_for(file.student, file.path.name) is row:
            continue
        where = f"{clean_name(manifest.path.name)}, line {row.line}"
        if file is None:
            plan.notices.append(Notice("manifest_unmatched", f"{where}: {clean_name(row.student)}"
                                       + (f" / {clean_name(row.file)}" if row.file else "")
                                       + " matches no submission", row.student or None, row.file or None))
        elif row.file and row.file != file.path.name:
            plan.notices.append(Notice("manifest_other_file", f"{where}: {clean_name(row.file)}"
                                       f" is not the file graded for {clean_name(row.student)} "
                                       f"({clean_name(file.path.name)}); its time is not used", row.student,
                                       plan.shown.get(file.path)))


def _report_roster(plan: Plan, roster: Roster) -> None:
    graded = {f.student for f in plan.files}
    missing = [name or student for student, name in roster.students.items() if student not in graded]
    if missing:
        listed = ", ".join(clean_name(m) for m in missing[:10])
        if len(missing) > 10:
            listed += f" and {len(missing) - 10} more"
        plan.notices.append(Notice("roster_missing",
                                   f"{len(missing)} student(s) on the roster have no submission: {listed}"))
    if roster.ambiguous:
        plan.notices.append(Notice("roster_ambiguous", f"{len(roster.ambiguous)} name(s) belong to more than one "
                                                       "student on the roster and are not used to find ids"))


def with_shown(file: SubmissionFile, plan: Plan) -> str:
    """How ``file`` is shown in the plan."""
    return plan.shown.get(file.path) or shown_path(file.path)
