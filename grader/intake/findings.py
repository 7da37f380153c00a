"""What finding submissions has to say besides the files it chose: files it left out, and warnings.

Plain data, as facts with a code each: the CLI words them for a terminal, ``--json`` emits them
as records of their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from grader.text import clean_name

#: Why a file was left out (``Ignored.kind``), in a few words each.
IGNORED_KINDS = {
    "not_a_submission": "not a .py or .ipynb file",
    "archive": "an archive inside the submissions (not unpacked)",
    "hidden": "a hidden file or folder",
    "system": "a folder of tool files (Jupyter checkpoints, Python caches, macOS metadata)",
    "link": "a symbolic link to a folder (not followed)",
    "online_text": "text typed into the LMS, not a file",
    "not_the_submission": "another file beside the submission",
    "older": "an older resubmission",
    "duplicate": "the same content as the file graded",
    "stub": "the unchanged starting file (as grader release wrote it)",
    "pair": "a .py and a .ipynb side by side: the other one is graded",
    "listed_twice": "named twice on the command line",
    "other_assignment": "another assignment's folder",
    "lms_file": "a file the LMS added",
    "refused": "an archive member that was not unpacked",
}

#: What a warning is about (``Notice.kind``).
NOTICE_KINDS = {
    "ambiguous": "a student's files leave the submission unclear: that student gets an error result",
    "nothing_to_grade": "a student handed in files, none of them .py or .ipynb: an error result",
    "pair": "a .py and a .ipynb of the module side by side: one is graded by the stated rule",
    "late_without_time": "the LMS marks a submission late without saying when: no late penalty is applied",
    "manifest_unmatched": "a manifest row that matches no submission",
    "manifest_other_file": "a manifest row for a file of the student that is not the one graded",
    "roster_unmatched": "a student the roster does not know",
    "roster_missing": "students on the roster without a submission",
    "roster_ambiguous": "a name the roster holds twice: not used to find an id",
    "metadata": "the LMS's metadata file is missing, unreadable or silent about a submission",
    "renamed": "an archive member whose name was not safe to store: stored under another name",
    "unpacked": "an archive was unpacked (or an earlier unpacking reused)",
}


def shown_path(path: Path, base: Path | None = None) -> str:
    """A path as people see it: relative to ``base`` when it lies under it, any bytes printable."""
    if base is not None:
        try:
            path = path.relative_to(base)
        except ValueError:
            pass
    return clean_name(os.fsencode(str(path)), 500)


@dataclass(frozen=True)
class Ignored:
    """A file (or folder) that was looked at and is not graded."""

    path: Path
    #: A key of ``IGNORED_KINDS``.
    kind: str
    #: Why, in a sentence that names what matters (the file graded instead, the limit, ...).
    reason: str
    #: Whose it would have been, when known.
    student: str | None = None
    #: The path as shown (relative to the folder it was found in).
    shown: str = ""


@dataclass(frozen=True)
class Notice:
    """Something the TA should know before trusting the grades."""

    #: A key of ``NOTICE_KINDS``.
    kind: str
    #: One line, for people.
    message: str
    student: str | None = None
    #: The file it is about, as shown, if any.
    file: str | None = None
