"""When each submission was handed in: an option for all, a manifest CSV, the LMS, or the file's time.

Sources, first that applies wins (``SubmissionFile.submitted_at_source``):

1. ``option``: ``--submitted-at``, one time for every file;
2. ``manifest``: the ``--manifest`` row of the student (and of the file, when the row names one);
3. ``lms``: a time the layout read from the LMS (Gradescope's ``created_at``);
4. ``mtime``: the file's modification time, which the student controls (inside a zip, say) and
   which is flagged as such. It is not used where the layout says file times mean nothing
   (a Canvas download; Canvas's own LATE verdict is kept instead), and a time no zip can hold
   (before 1980) or one in the future is not a time.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from grader.course.lateness import parse_moment
from grader.errors import UsageError
from grader.intake.discover import SubmissionFile
from grader.text import clean_name

_ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=timezone.utc).timestamp()


@dataclass(frozen=True)
class ManifestRow:
    """One line of a manifest."""

    line: int
    student: str
    #: The file's name (without folders), or "" when the row is about the student's submission.
    file: str
    submitted_at: datetime


@dataclass
class Manifest:
    """A CSV with columns ``student,file,submitted_at`` (``file`` may be empty)."""

    path: Path
    rows: list[ManifestRow] = field(default_factory=list)

    def row_for(self, student: str, name: str) -> ManifestRow | None:
        """The row for ``student``'s file ``name``: one naming that file, else one naming no file."""
        rows = [r for r in self.rows if r.student == student]
        return next((r for r in rows if r.file == name), None) or next((r for r in rows if not r.file), None)


def read_manifest(path: Path) -> Manifest:
    shown = clean_name(str(path), 500)
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            reader = csv.DictReader(handle)
            missing = {"student", "submitted_at"} - set(reader.fieldnames or [])
            if missing:
                raise UsageError(f"{shown}: the manifest needs the columns student,file,submitted_at "
                                 f"(missing {', '.join(sorted(missing))})")
            manifest = Manifest(Path(path))
            for number, row in enumerate(reader, start=2):
                moment = parse_moment(row["submitted_at"] or "", what=f"{shown}, line {number}: submitted_at")
                manifest.rows.append(ManifestRow(number, (row["student"] or "").strip(),
                                                 Path((row.get("file") or "").strip()).name, moment))
            return manifest
    except OSError as exc:
        raise UsageError(f"cannot read the manifest {shown}: {exc.strerror}") from None


def file_time(path: Path) -> datetime | None:
    """A file's modification time, or None when it is not a submission time: unreadable, before
    1980 (what no zip can hold: an unpacker's "no time") or in the future."""
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    if not _ZIP_EPOCH <= stamp <= time.time() + 86400:
        return None
    try:
        return datetime.fromtimestamp(stamp, tz=timezone.utc)
    except (OverflowError, ValueError):
        return None


def with_submission_times(files: list[SubmissionFile], *, submitted_at: datetime | None = None,
                          manifest: Manifest | Path | None = None) -> list[SubmissionFile]:
    """Attach submission times and where each came from (see the module's docstring)."""
    if manifest is not None and not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    dated = []
    for file in files:
        moment, source = submitted_at, "option"
        if moment is None and manifest is not None:
            row = manifest.row_for(file.student, file.path.name)
            moment, source = (row.submitted_at, "manifest") if row else (None, None)
        if moment is None and file.submitted_at is not None:
            moment, source = file.submitted_at, file.submitted_at_source or "lms"
        if moment is None and file.use_file_time and file.late_by_lms is None:
            moment, source = file_time(file.path), "mtime"
        dated.append(replace(file, submitted_at=moment, submitted_at_source=source if moment is not None else None))
    return dated
