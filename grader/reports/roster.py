"""An LMS roster (``--roster``) and which of its students a grader student id is.

A roster is the gradebook export of the LMS the grades go to: Canvas (Grades → Export:
``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, then a ``Points Possible``
row), Moodle (``First name``, ``Last name``, ``ID number``, ``Email address``, maybe
``Username``), Blackboard (``Last Name``, ``First Name``, ``Username``, ``Student ID``; often
UTF-16 and tab-separated), or any CSV with some of those columns. UTF-8 (with or without a
BOM) and UTF-16 are read; the delimiter (comma, semicolon, tab) is detected.

A grader student id (a file stem, a folder name, an LMS id from the submission layout) is
matched against the roster's columns in this order, first the ids, then the names:

    ID (Canvas user id), SIS Login ID, SIS User ID, Username, ID number, Student ID,
    Email address, then the name ("Last, First", "First Last" or Canvas's download form
    "lastfirst")

Ids compare exactly, logins, usernames and emails without regard to case, names without
regard to case, spacing or punctuation. The first column where exactly one row matches
decides; a column where several rows match is ambiguous and the student is not placed. Two
grader students that land on the same roster row are not placed either: one of the two
grades would overwrite the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.course.roster_file import name_key, read_rows
from grader.errors import RosterError
from grader.text import clean_name

#: Header names (case-insensitive) of each field a roster may carry.
HEADERS = {
    "canvas_id": ("id",),
    "sis_login_id": ("sis login id",),
    "sis_user_id": ("sis user id",),
    "username": ("username", "user name"),
    "idnumber": ("id number", "idnumber"),
    "student_id": ("student id",),
    "email": ("email address", "email", "e-mail"),
    "section": ("section",),
    "sortable_name": ("student",),
    "first_name": ("first name", "firstname"),
    "last_name": ("last name", "lastname", "surname"),
    "name": ("name", "full name"),
}
#: The order fields are tried in, with how their values compare, and how a warning names them.
MATCH_ORDER = (("canvas_id", "exact", "ID"), ("sis_login_id", "fold", "SIS Login ID"),
               ("sis_user_id", "exact", "SIS User ID"), ("username", "fold", "Username"),
               ("idnumber", "exact", "ID number"), ("student_id", "exact", "Student ID"),
               ("email", "fold", "Email address"), ("name", "name", "name"))


@dataclass
class RosterEntry:
    """One student of the roster."""

    #: The roster's fields by our names (``canvas_id``, ``sis_login_id``, ``email``, ``name``…).
    fields: dict[str, str]
    #: Row number in the file (1 = the header), for messages.
    line: int

    def get(self, key: str) -> str:
        return self.fields.get(key, "")

    @property
    def display_name(self) -> str:
        """The name as the LMS shows it in its gradebook (Canvas: ``Last, First``)."""
        return self.get("sortable_name") or self.get("name") or self.get("username") or self.get("email")

    def names(self) -> set[str]:
        """Every form of the student's name a grader id may take, normalised."""
        first, last = self.get("first_name"), self.get("last_name")
        forms = {self.get("name"), self.get("sortable_name")}
        if first or last:
            forms |= {f"{first} {last}", f"{last}, {first}", f"{last}{first}"}
        sortable = self.get("sortable_name")
        if "," in sortable:  # "Smith, John" -> "John Smith" and Canvas's "smithjohn"
            last_part, _, first_part = sortable.partition(",")
            forms |= {f"{first_part} {last_part}", f"{last_part}{first_part}"}
        return {name_key(f) for f in forms if f and f.strip(", ")}


@dataclass
class Roster:
    """The students of a roster file, in file order."""

    path: Path
    entries: list[RosterEntry]
    #: The header as the file spells it.
    header: list[str]


@dataclass
class Match:
    """Where one grader student id landed in the roster."""

    #: The grader student id, as graded.
    student: str
    #: The roster row, or None when the student could not be placed.
    entry: RosterEntry | None = None
    #: The column that matched (``ID``, ``name``…), or why nothing was placed.
    how: str = ""


def read_roster(path: Path) -> Roster:
    """The roster in ``path``; a ``RosterError`` saying what to fix if it is not one."""
    path = Path(path)
    header, rows = read_rows(path)
    index: dict[str, int] = {}
    for position, title in enumerate(header):
        for key, names in HEADERS.items():
            if title.casefold() in names and key not in index:
                index[key] = position
    identifying = [key for key, _, _ in MATCH_ORDER if key in index] + [
        k for k in ("sortable_name", "first_name", "last_name") if k in index]
    if not identifying:
        raise RosterError(f"the roster {path} has no column naming students (its header: "
                          f"{', '.join(clean_name(h, 40) for h in header[:8]) or 'empty'}); "
                          "pass your LMS's gradebook export (Canvas: Student, ID, SIS Login ID; "
                          "Moodle: Email address or ID number; Blackboard: Username)")
    entries = []
    for line, row in enumerate(rows, start=2):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        first = cells[0] if cells else ""
        if "Points Possible" in first or all(re.fullmatch(r"(?i)(muted|manual posting.*)?", c) for c in cells):
            continue  # Canvas's rows about the assignments, not students
        fields = {key: cells[i] for key, i in index.items() if i < len(cells) and cells[i]}
        entries.append(RosterEntry(fields=fields, line=line))
    return Roster(path=path, entries=entries, header=header)


def _candidates(roster: Roster, student: str) -> tuple[list[RosterEntry], str]:
    """The roster rows ``student`` matches at the first column that matches any, and that column."""
    wanted = student.strip()
    for key, how, label in MATCH_ORDER:
        if how == "name":
            target = name_key(wanted)
            found = [e for e in roster.entries if target and target in e.names()]
        elif how == "fold":
            found = [e for e in roster.entries if e.get(key) and e.get(key).casefold() == wanted.casefold()]
        else:
            found = [e for e in roster.entries if e.get(key) and e.get(key) == wanted]
        if found:
            return found, label
    return [], ""


def match_students(roster: Roster, students: list[str]) -> list[Match]:
    """Where each of ``students`` is in ``roster`` (see the module's docstring for the rules)."""
    matches = []
    for student in students:
        found, label = _candidates(roster, student)
        if not found:
            matches.append(Match(student, None, "matches no row of the roster"))
        elif len(found) > 1:
            lines = ", ".join(str(e.line) for e in found[:5])
            matches.append(Match(student, None, f"matches {len(found)} roster rows by {label} (lines {lines})"))
        else:
            matches.append(Match(student, found[0], label))
    claimed: dict[int, list[Match]] = {}
    for match in matches:
        if match.entry is not None:
            claimed.setdefault(id(match.entry), []).append(match)
    for rivals in claimed.values():
        if len(rivals) > 1:
            names = " and ".join(clean_name(m.student, 80) for m in rivals)
            entry = rivals[0].entry
            for match in rivals:
                match.how = (f"shares roster line {entry.line} ({clean_name(entry.display_name, 80)}) with another "
                             f"graded id ({names}): keep one grade per student")
                match.entry = None
    return matches
