"""Reading ``submission_metadata.yml`` of a Gradescope "Export Submissions" archive.

The file is YAML written by Ruby (symbol keys with a leading colon), one entry per
submission folder::

    submission_409194023:
      :submitters:
      - :name: First Last
        :sid: '123456789'
        :email: first@example.edu
      :created_at: 2026-04-26 17:34:00.861687000 Z
      :score: 2.0
      :results: ...        # and :history:, nested deeper

PyYAML is not one of the grader's dependencies, and a full YAML loader is more than this
needs: this reads only the lines it uses (each submission's submitters and ``:created_at:``,
by indentation), as plain strings, and ignores every other line. Nothing in the file can make
it build an object or run code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

#: Bytes of metadata read at most (its ``:results:`` and ``:history:`` make it large).
MAX_BYTES = 64 * 1024 * 1024

_TOP = re.compile(r"^([^\s#:'\"][^:]*|'[^']*'|\"[^\"]*\"):\s*$")
_KEY = re.compile(r"^(\s*)(- )?:?([A-Za-z_]+):(?:\s+(.*))?$")
_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|UTC|[+-]\d\d:?\d\d)?$")


@dataclass
class Submitter:
    name: str = ""
    sid: str = ""
    email: str = ""


@dataclass
class SubmissionMetadata:
    """One submission folder's entry."""

    submitters: list[Submitter] = field(default_factory=list)
    #: When it was submitted, as Gradescope recorded it; None if absent or unreadable.
    created_at: datetime | None = None


def scalar(text: str | None) -> str:
    """A YAML scalar as a string: quotes removed (with their escapes), tags and comments dropped."""
    text = (text or "").strip()
    if text.startswith("!"):  # a tag such as !ruby/object: the value after it, if any
        text = text.partition(" ")[2].strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        inner = text[1:-1]
        return re.sub(r'\\(["\\/])', r"\1", inner).replace("\\n", " ").replace("\\t", " ")
    if text in ("~", "null"):
        return ""
    return text.split(" #", 1)[0].strip()


def parse_time(text: str) -> datetime | None:
    """A Ruby YAML time (``2026-04-26 17:34:00.861687000 Z``, ``... -07:00``) or ISO 8601; None otherwise."""
    match = _TIME.match(scalar(text))
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z", "UTC") else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}.{(fraction or '0')[:6].ljust(6, '0')}{zone}")
    except ValueError:
        return None
    return moment.astimezone(timezone.utc)


def read_metadata(path: Path) -> dict[str, SubmissionMetadata]:
    """Folder name -> its metadata. Raises ``OSError``/``ValueError`` when the file cannot be read."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES // 2**20} MiB")
    return parse_metadata(data.decode("utf-8", "replace"))


def parse_metadata(text: str) -> dict[str, SubmissionMetadata]:
    entries: dict[str, SubmissionMetadata] = {}
    current: SubmissionMetadata | None = None
    in_submitters = False
    submitter: Submitter | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line.startswith("---"):
            continue
        top = _TOP.match(line)
        if top:
            current = entries.setdefault(scalar(top.group(1)), SubmissionMetadata())
            in_submitters, submitter = False, None
            continue
        key = _KEY.match(line)
        if current is None or key is None:
            continue
        indent, dash, name, value = len(key.group(1)), key.group(2), key.group(3), key.group(4)
        if indent == 2 and not dash:  # a key of the submission itself
            in_submitters = name == "submitters"
            submitter = None
            if name == "created_at":
                current.created_at = parse_time(value or "")
            continue
        if not in_submitters:
            continue
        if dash and indent == 2:  # "  - :name: ..." starts a submitter
            submitter = Submitter()
            current.submitters.append(submitter)
        elif dash or indent != 4 or submitter is None:
            continue
        if name in ("name", "sid", "email"):
            setattr(submitter, name, scalar(value))
    return entries
