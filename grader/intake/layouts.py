"""How a folder of submissions is laid out, and whose each file is.

Each layout reads a folder the way one LMS (or a TA) writes it and returns candidates (files
that may be a student's submission, with the ids and times the layout knows) and every other
file it saw, with why it is not one. Choosing one file per student is ``plan``'s job.

- ``plain``: ``<student>.py`` / ``<student>.ipynb``, or ``<student>/<files>``.
- ``canvas``: "Download Submissions": ``{name}_{LATE_}{user id}_{file id}_{original name}``, flat;
  Canvas appends ``-N`` to a name the student uploaded again (``perceptron-1.py``).
- ``moodle``: ``{Full Name}_{participant id}_assignsubmission_file_{name}`` or a folder
  ``{Full Name}_{participant id}_assignsubmission_file_/`` with the files.
- ``gradescope``: "Export Submissions": ``submission_<id>/`` folders and ``submission_metadata.yml``.
- ``nbgrader``: ``submitted/<student>/<assignment>/*.ipynb``.

Only names are read here, and Gradescope's metadata file; nothing is run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

from grader.intake.archives import MARKER
from grader.intake.discover import student_id
from grader.intake.findings import Ignored, Notice, shown_path
from grader.intake.gradescope_metadata import read_metadata
from grader.intake.submission import SUFFIXES
from grader.text import clean_name

LAYOUTS = ("plain", "canvas", "moodle", "gradescope", "nbgrader")
#: Folders of tool files, never a submission: skipped whole, listed once.
TOOL_FOLDERS = {".ipynb_checkpoints", "__pycache__", "__MACOSX"}
ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar"}

CANVAS = re.compile(r"^(?:(?P<name>.+?)_)??(?:(?P<late>LATE)_)?(?P<user>\d+|anon_[A-Za-z0-9]+)_"
                    r"(?P<file>\d+)_(?P<original>.+)$", re.S)
CANVAS_TEXT = re.compile(r"^(?:.+?_)??(?:LATE_)?(?P<user>\d+|anon_[A-Za-z0-9]+)_(?:text|link)\.html$", re.S)
MOODLE = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?(?P<rest>.*)$", re.S)
_RESUBMITTED = re.compile(r"^(?P<base>.*)-(?P<n>\d+)$", re.S)


@dataclass
class Candidate:
    """A file that may be a student's submission."""

    path: Path
    student: str
    #: Where the id came from: ``lms`` (an id the LMS gave), ``name`` (a file or folder name,
    #: which ``--roster`` may map to an id), later ``manifest`` or ``roster``.
    id_from: str
    #: How the layout read it, for the plan ("Canvas user 12345", "the student's own file").
    why: str
    #: The student's name as the LMS gives it, if it does.
    name: str | None = None
    #: Named as the submission itself: after the module, or a student's own top-level file.
    whole: bool = False
    #: A student's own top-level file (``ann.py``): named after the student, not the module.
    own_file: bool = False
    #: The folder it came from: the .py-beside-.ipynb rule applies within one.
    slot: Path | None = None
    #: Order of resubmissions (higher is newer), e.g. (Canvas file id, -N); () when unknown.
    version: tuple = ()
    #: The name without a resubmission's ``-N``.
    base: str = ""
    submitted_at: datetime | None = None
    submitted_at_source: str | None = None
    #: The LMS's own verdict (Canvas's LATE), when it gives one without a time.
    late_by_lms: bool | None = None
    #: False when the file's time says nothing about the submission (an LMS download's times).
    use_file_time: bool = True
    #: The path as shown (relative to the folder given).
    shown: str = ""


@dataclass
class Scan:
    """What one layout found in one folder."""

    layout: str
    root: Path
    #: Paths are shown relative to this folder (the one holding what the TA named).
    base: Path | None = None
    candidates: list[Candidate] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def shown(self, path: Path) -> str:
        return shown_path(path, self.base if self.base is not None else self.root.parent)

    def ignore(self, path: Path, kind: str, reason: str, student: str | None = None) -> None:
        self.ignored.append(Ignored(path, kind, reason, student, self.shown(path)))

    def candidate(self, path: Path, student: str, **facts) -> None:
        stem, suffix = path.stem, path.suffix
        match = _RESUBMITTED.match(stem)
        base = match.group("base") if match else stem
        facts.setdefault("base", base + suffix)
        self.candidates.append(Candidate(path, student, shown=self.shown(path), **facts))


def is_module(path: Path, module: str) -> bool:
    """Whether the file is named after the module (``perceptron.py``, or ``perceptron-1.py`` uploaded again)."""
    match = _RESUBMITTED.match(path.stem)
    return path.stem == module or bool(match and match.group("base") == module)


def walk(scan: Scan, folder: Path, student: str | None = None, lms_files: dict | None = None) -> Iterator[Path]:
    """The .py and .ipynb files in ``folder`` and below, in name order; every other entry is
    recorded as ignored. Links to folders are not followed (a link to a file is yielded, and
    loading refuses it with a message the student can act on). ``lms_files`` names files the LMS
    adds (name -> why they are not used)."""
    try:
        entries = sorted(folder.iterdir(), key=_by_name)
    except OSError as exc:
        scan.ignore(folder, "not_a_submission", f"cannot be read ({exc.strerror})", student)
        return
    for entry in entries:
        if entry.name == MARKER and folder == scan.root:
            continue
        if entry.is_dir() and not entry.is_symlink():
            if entry.name in TOOL_FOLDERS or entry.name.startswith("."):
                _ignore_folder(scan, entry, student)
            else:
                yield from walk(scan, entry, student, lms_files)
        elif entry.is_dir():
            _ignore_folder(scan, entry, student)
        elif _file_kind(scan, entry, student, lms_files):
            yield entry


def _ignore_folder(scan: Scan, entry: Path, student: str | None = None) -> None:
    if entry.is_symlink():
        scan.ignore(entry, "link", "a symbolic link to a folder (not followed)", student)
    elif entry.name in TOOL_FOLDERS:
        scan.ignore(entry, "system", "tool files (Jupyter checkpoints, Python caches or macOS metadata)", student)
    else:
        scan.ignore(entry, "hidden", "a hidden folder", student)


def _file_kind(scan: Scan, path: Path, student: str | None, lms_files: dict | None = None) -> bool:
    """True for a .py/.ipynb file; records anything else as ignored."""
    if lms_files and path.name in lms_files:
        scan.ignore(path, "lms_file", lms_files[path.name], student)
    elif path.name.startswith("."):
        scan.ignore(path, "hidden", "a hidden file", student)
    elif path.suffix in SUFFIXES:
        return True
    elif path.suffix.lower() in ARCHIVE_SUFFIXES:
        scan.ignore(path, "archive", "an archive inside the submissions is not unpacked; unpack it yourself "
                                     "if it holds a submission", student)
    else:
        scan.ignore(path, "not_a_submission", "not a .py or .ipynb file", student)
    return False


def _student_folder(scan: Scan, folder: Path, student: str, module: str, **facts) -> None:
    if folder.is_symlink():
        # Not walked (it may lead anywhere); its own files become the student's, and loading
        # refuses them with "... is a symbolic link; submit the file itself".
        paths = [p for p in _entries(folder) if not p.is_dir() and _file_kind(scan, p, student)]
        if not paths:
            _ignore_folder(scan, folder, student)
    else:
        paths = list(walk(scan, folder, student))
    for path in paths:
        scan.candidate(path, student, whole=is_module(path, module), slot=path.parent, **facts)


def _is_student_folder(entry: Path) -> bool:
    return entry.is_dir() and not entry.name.startswith(".") and entry.name not in TOOL_FOLDERS


def _entries(root: Path) -> list[Path]:
    return sorted((p for p in root.iterdir() if p.name != MARKER), key=_by_name)


def _by_name(path: Path) -> str:
    return path.name  # comparing names, not Path objects: 20x faster for a class's folder


def _unnamed_entry(scan: Scan, entry: Path, module: str, file_why: str) -> None:
    """An entry not named as an LMS names things: a folder is one student's, named after the
    folder; a .py/.ipynb file is one student's, named after the file; anything else is ignored."""
    if _is_student_folder(entry):
        _student_folder(scan, entry, student_id(entry.name), module, id_from="name",
                        why=f"in the folder {clean_name(entry.name)}/")
    elif entry.is_dir():
        _ignore_folder(scan, entry)
    elif _file_kind(scan, entry, None):
        scan.candidate(entry, student_id(entry.stem), id_from="name", whole=True, own_file=True, slot=scan.root,
                       why=file_why)


def scan_plain(root: Path, module: str, scan: Scan) -> None:
    for entry in _entries(root):
        _unnamed_entry(scan, entry, module, "a student's own file, named after the student")


def scan_canvas(root: Path, module: str, scan: Scan) -> None:
    for entry in _entries(root):
        match = CANVAS.match(entry.name) if entry.is_file() else None
        if match is None:
            text = CANVAS_TEXT.match(entry.name) if entry.is_file() else None
            if text:
                scan.ignore(entry, "online_text", "a Canvas text entry or URL submission, not a file",
                            text.group("user"))
            else:
                _unnamed_entry(scan, entry, module,
                               "not named as Canvas names files: the file's name is taken as the student's")
            continue
        user, original = match.group("user"), Path(match.group("original"))
        if original.name.startswith(".") or original.suffix not in SUFFIXES:
            _file_kind(scan, entry, user)
            continue
        resubmitted = _RESUBMITTED.match(original.stem)
        number = int(resubmitted.group("n")) if resubmitted else 0
        late = match.group("late") is not None
        # Canvas numbers files in upload order: a higher file id is a later upload.
        scan.candidate(entry, user, id_from="lms", name=match.group("name"), whole=is_module(original, module),
                       slot=root, version=(int(match.group("file")), number),
                       base=(resubmitted.group("base") if resubmitted else original.stem) + original.suffix,
                       why=f"Canvas user {user}" + (", marked LATE" if late else ""),
                       late_by_lms=late, use_file_time=False)


def scan_moodle(root: Path, module: str, scan: Scan) -> None:
    for entry in _entries(root):
        match = MOODLE.match(entry.name)
        if match is None:
            _unnamed_entry(scan, entry, module,
                           "not named as Moodle names files: the file's name is taken as the student's")
            continue
        participant, name, plugin = match.group("id"), match.group("name"), match.group("plugin")
        why = f"Moodle participant {participant}"
        if plugin != "file":
            scan.ignore(entry, "online_text", f"Moodle's {clean_name(plugin, 40)} submission, not a file", participant)
        elif entry.is_dir() and not entry.is_symlink():
            _student_folder(scan, entry, participant, module, id_from="lms", name=name, why=why)
        elif entry.is_file():
            original = Path(match.group("rest"))
            if _file_kind(scan, entry, participant):
                scan.candidate(entry, participant, id_from="lms", name=name, whole=is_module(original, module),
                               slot=root, base=original.name, why=why)
        else:
            _ignore_folder(scan, entry)


def scan_gradescope(root: Path, module: str, scan: Scan) -> None:
    metadata_path = root / "submission_metadata.yml"
    try:
        metadata = read_metadata(metadata_path)
    except (OSError, ValueError) as exc:
        metadata = {}
        scan.notices.append(Notice("metadata", f"{scan.shown(metadata_path)} cannot be read "
                                               f"({clean_name(str(exc), 120)}): students are named after "
                                               "their submission folders", file=scan.shown(metadata_path)))
    for entry in _entries(root):
        if entry == metadata_path:
            continue
        if not entry.is_dir() or entry.is_symlink() or entry.name.startswith(".") or entry.name in TOOL_FOLDERS:
            if entry.is_dir():
                _ignore_folder(scan, entry)
            else:
                _file_kind(scan, entry, None)
            continue
        meta = metadata.get(entry.name)
        submitters = meta.submitters if meta else []
        if not submitters:
            scan.notices.append(Notice("metadata", f"{scan.shown(entry)}/ has no submitters in submission_metadata.yml:"
                                                   " its folder name is taken as the student's",
                                       file=scan.shown(entry)))
            _student_folder(scan, entry, student_id(entry.name), module, id_from="name",
                            why=f"in the folder {clean_name(entry.name)}/")
            continue
        # A group submission counts for each of its submitters: one result each, same file.
        group = " (a group submission)" if len(submitters) > 1 else ""
        for submitter in submitters:
            raw = submitter.sid or submitter.email or submitter.name
            student = student_id(raw) if raw else student_id(entry.name)
            _student_folder(scan, entry, student, module, id_from="lms" if submitter.sid or submitter.email else "name",
                            name=submitter.name or None, why=f"Gradescope {clean_name(entry.name)}{group}",
                            submitted_at=meta.created_at, submitted_at_source="lms" if meta.created_at else None)


#: Files nbgrader adds beside a submission, and why they are not used.
NBGRADER_FILES = {"timestamp.txt": "nbgrader's timestamp.txt is written by the student's own nbgrader submit, "
                                   "so it is not used as the submission time (give times with --manifest)"}


def scan_nbgrader(root: Path, module: str, scan: Scan, assignment: str) -> None:
    submitted = root if root.name == "submitted" else root / "submitted"
    for entry in _entries(root):
        if entry != submitted:
            scan.ignore(entry, "not_a_submission", "not in nbgrader's submitted/ folder")
    for student_folder in _entries(submitted):
        if not student_folder.is_dir():
            _file_kind(scan, student_folder, None)
            continue
        if student_folder.is_symlink() or student_folder.name.startswith("."):
            _ignore_folder(scan, student_folder)
            continue
        student = student_id(student_folder.name)
        folders = [p for p in _entries(student_folder) if p.is_dir() and not p.is_symlink()]
        wanted = [p for p in folders if p.name in (assignment, module)] or (folders if len(folders) == 1 else [])
        for other in _entries(student_folder):
            if other not in wanted[:1]:
                names = " nor ".join(dict.fromkeys(clean_name(n) for n in (assignment, module) if n))
                scan.ignore(other, "other_assignment", "not this assignment's folder (nbgrader keeps one per "
                                                       f"assignment; this one is not named {names})", student)
        for folder in wanted[:1]:
            for path in walk(scan, folder, student, NBGRADER_FILES):
                scan.candidate(path, student, id_from="lms", whole=is_module(path, module), slot=path.parent,
                               why=f"nbgrader student {clean_name(student_folder.name)}")


def detect(root: Path) -> str:
    """The layout of ``root``, from its names alone."""
    names = [p for p in _entries(root) if not p.name.startswith(".")]
    if (root / "submission_metadata.yml").is_file():
        return "gradescope"
    if root.name == "submitted" or (root / "submitted").is_dir():
        return "nbgrader"
    if any(MOODLE.match(p.name) for p in names):
        return "moodle"
    files = [p for p in names if p.is_file()]
    canvas = [p for p in files if CANVAS.match(p.name) or CANVAS_TEXT.match(p.name)]
    if canvas and 2 * len(canvas) >= len(files):
        return "canvas"
    return "plain"


def scan(root: Path, module: str, *, layout: str = "auto", assignment: str = "", base: Path | None = None,
         unpacked: bool = False) -> Scan:
    """Read ``root`` as ``layout`` (``auto``: detected). A single top folder (as Gradescope's
    ``assignment_<id>_export/``) is looked into when it holds an LMS layout, and in an ``unpacked``
    archive also when it holds a class (it does not hold a file named after the module, which
    would make it one student's folder). Paths are shown relative to ``base`` (default: ``root``'s parent)."""
    root = Path(root)
    base = base if base is not None else root.parent
    chosen = detect(root) if layout == "auto" else layout
    inner = _single_folder(root)
    if inner is not None and chosen == "plain" and layout in ("auto", "plain"):
        inside = detect(inner)
        if inside != "plain" or (unpacked and not any(is_module(p, module) for p in _entries(inner) if p.is_file())):
            return scan(inner, module, layout=inside if layout == "auto" else layout, assignment=assignment,
                        base=base)
    elif inner is not None and layout != "auto" and detect(root) == "plain" and layout != "plain":
        return scan(inner, module, layout=layout, assignment=assignment, base=base)
    result = Scan(chosen, root, base)
    if chosen == "nbgrader":
        scan_nbgrader(root, module, result, assignment)
    else:
        {"plain": scan_plain, "canvas": scan_canvas, "moodle": scan_moodle,
         "gradescope": scan_gradescope}[chosen](root, module, result)
    return result


def _single_folder(root: Path) -> Path | None:
    entries = [p for p in _entries(root) if not p.name.startswith(".") and p.name not in TOOL_FOLDERS]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return None
