"""Reading a class roster file, as LMSs export their gradebooks: the one reader that both the
intake (names to student ids) and the LMS exports (the rows grades go into) use.

Canvas and Moodle write UTF-8 CSV (Canvas with a BOM), Excel "CSV" on Windows is cp1252, and
Blackboard's Grade Center download is UTF-16 and tab-separated: the encoding and delimiter are
found from the bytes. The file is bounded before it is read.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from pathlib import Path

from grader.errors import RosterError
from grader.text import clean_name

#: A class list larger than this is not one.
MAX_ROSTER_BYTES = 32 * 1024 * 1024


def name_key(name: str) -> str:
    """A name compared without case, accents' composition, spacing or punctuation."""
    text = unicodedata.normalize("NFKC", name).casefold()
    return re.sub(r"[\W_]+", "", text)


def decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")  # what Excel writes as "CSV" on Windows


def delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in ("\t", ",", ";")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The roster's header (cells stripped) and its rows; a ``RosterError`` saying what to fix
    when the file cannot be read as one."""
    path = Path(path)
    shown = clean_name(str(path), 500)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_ROSTER_BYTES + 1)
    except OSError as exc:
        raise RosterError(f"cannot read the roster {shown}: {exc.strerror or exc}; "
                          "pass the CSV your LMS's gradebook export wrote") from None
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError(f"{shown} is larger than {MAX_ROSTER_BYTES // 2**20} MiB: it is not a class list; "
                          "export the gradebook from your LMS and pass that")
    text = decode(data)
    lines = text.splitlines()
    if not lines:
        raise RosterError(f"the roster {shown} is empty; pass the CSV your LMS's gradebook export wrote")
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter(lines[0])))
    except csv.Error as exc:
        raise RosterError(f"the roster {shown} is not CSV ({exc}); pass the CSV your LMS's gradebook export "
                          "wrote") from None
    return [cell.strip() for cell in rows[0]], rows[1:]
