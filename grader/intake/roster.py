"""A class roster from an LMS gradebook export (``--roster roster.csv``): names to student ids.

Read as the LMSs write them:

- Canvas "Export" of the gradebook: ``Student`` ("Smith, John"), ``ID`` (the Canvas user id, as
  in "Download Submissions" file names), ``SIS User ID``, ``SIS Login ID``, ``Section``, ..., with a
  ``Points Possible`` row under the header;
- Moodle's grading worksheet: ``Identifier`` ("Participant 123456", the id in Moodle's file
  names), ``Full name``, ...; Moodle's gradebook export: ``First name``, ``Last name``, ``ID number``;
- any CSV with a ``name`` (or ``First name``/``Last name``) column and an id column
  (``id``, ``student_id``, ``sid``, ``username``, ``email``).

Names are matched loosely (case, spaces and punctuation ignored, "Smith, John" also as
"John Smith"), so that the folder ``John Smith/`` and Canvas's ``smithjohn_...`` both find
John Smith's row. A name two rows share is not used to find an id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.course.roster_file import name_key, read_rows
from grader.errors import RosterError
from grader.text import clean_name

#: Id columns, best first (case-insensitive). Canvas's ``ID`` is what its file names carry.
ID_COLUMNS = ("id", "identifier", "sis user id", "id number", "student id", "student_id", "sid",
              "sis login id", "username", "email address", "email")
NAME_COLUMNS = ("student", "full name", "name", "student name")


def name_keys(name: str) -> set[str]:
    """The keys a roster name answers to: as written, and with family and given names swapped."""
    keys = {name_key(name)}
    if name.count(",") == 1:  # "Smith, John": Canvas's sortable name
        last, first = (part.strip() for part in name.split(","))
        keys.add(name_key(f"{first} {last}"))
    else:
        words = name.split()
        if len(words) >= 2:
            keys.add(name_key(" ".join([words[-1]] + words[:-1])))
    keys.discard("")
    return keys


@dataclass
class Roster:
    """Who is in the class."""

    path: Path
    #: Student id -> name as the roster writes it.
    students: dict[str, str] = field(default_factory=dict)
    #: Name key -> student id, for names that only one student has.
    by_name: dict[str, str] = field(default_factory=dict)
    #: Name keys more than one student answers to.
    ambiguous: set[str] = field(default_factory=set)

    def id_for(self, raw: str) -> str | None:
        """``raw`` itself when it is a roster id, else the id of the one student it names."""
        if raw in self.students:
            return raw
        return self.by_name.get(name_key(raw))


def _columns(header: list[str], wanted: tuple[str, ...]) -> list[str]:
    folded = {h.strip().casefold(): h for h in header}
    return [folded[w] for w in wanted if w in folded]


def _column(header: list[str], wanted: tuple[str, ...]) -> str | None:
    return next(iter(_columns(header, wanted)), None)


def read_roster(path: Path) -> Roster:
    shown = clean_name(str(path), 500)
    header, rows = read_rows(path)
    records = [dict(zip(header, (cell.strip() for cell in row))) for row in rows]
    id_columns = _columns(header, ID_COLUMNS)  # a row's id: the first of these it fills in
    name_column = _column(header, NAME_COLUMNS)
    first, last = _column(header, ("first name", "given name")), _column(header, ("last name", "surname"))
    if not id_columns or (name_column is None and not (first and last)):
        raise RosterError(f"the roster {shown} needs an id column ({', '.join(c for c in ID_COLUMNS[:4])}, ...) "
                         "and a name column (Student, Full name, Name, or First name and Last name), "
                         "as an LMS gradebook export has")
    roster = Roster(Path(path))
    seen: dict[str, str] = {}
    for row in records:
        name = (row.get(name_column) or "").strip() if name_column else \
            f"{(row.get(first) or '').strip()} {(row.get(last) or '').strip()}".strip()
        raw_id = next((value.strip() for value in (row.get(c) for c in id_columns) if value and value.strip()), "")
        if name.casefold() == "points possible" or not raw_id:  # Canvas's second row; test or empty rows
            continue
        student = re.sub(r"^participant\s*", "", raw_id, flags=re.I)  # Moodle: "Participant 123456"
        roster.students[student] = name
        for key in name_keys(name):
            if key in seen and seen[key] != student:
                roster.ambiguous.add(key)
            seen[key] = student
    roster.by_name = {key: student for key, student in seen.items() if key not in roster.ambiguous}
    return roster
