"""When each submission was handed in: an option for all, a manifest CSV, or the file's time."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from grader.course.lateness import parse_moment
from grader.errors import UsageError
from grader.intake.discover import SubmissionFile


def read_manifest(path: Path) -> dict[str, list[tuple[str, datetime]]]:
    """A manifest CSV with columns student,file,submitted_at: per student, (file name, time) pairs."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"student", "submitted_at"} - set(reader.fieldnames or [])
            if missing:
                raise UsageError(f"{path}: the manifest needs the columns student,file,submitted_at "
                                 f"(missing {', '.join(sorted(missing))})")
            times: dict[str, list[tuple[str, datetime]]] = {}
            for number, row in enumerate(reader, start=2):
                moment = parse_moment(row["submitted_at"] or "", what=f"{path}, line {number}: submitted_at")
                times.setdefault(row["student"], []).append((Path(row.get("file") or "").name, moment))
            return times
    except OSError as exc:
        raise UsageError(f"cannot read the manifest {path}: {exc.strerror}") from None


def file_time(path: Path) -> datetime | None:
    """A file's modification time, or None when it is not a time (a zip can carry any value)."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except (OSError, OverflowError, ValueError):
        return None


def with_submission_times(files: list[SubmissionFile], *, submitted_at: datetime | None = None,
                          manifest: Path | None = None) -> list[SubmissionFile]:
    """Attach submission times and where each came from: the option, else the manifest's row,
    else a time the layout knew already (an LMS export), else the file's modification time."""
    times = read_manifest(manifest) if manifest else {}
    dated = []
    for file in files:
        moment, source = submitted_at, "option"
        if moment is None and file.student in times:
            rows = times[file.student]
            named = [t for name, t in rows if name == file.path.name]
            moment, source = (named[0] if named else rows[0][1]), "manifest"
        if moment is None and file.submitted_at is not None:
            moment, source = file.submitted_at, file.submitted_at_source or "lms"
        if moment is None:
            moment, source = file_time(file.path), "mtime"
        dated.append(replace(file, submitted_at=moment, submitted_at_source=source if moment is not None else None))
    return dated
