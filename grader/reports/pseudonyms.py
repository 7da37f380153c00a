"""The names students appear under on a leaderboard: their own choice, else a pseudonym.

A pseudonym is derived from the student's id with a course secret (HMAC-SHA256 of the
assignment and the id under the leaderboard key), so it is stable from one run of
``grader leaderboard`` to the next, says nothing about the id to whoever lacks the key, and
differs between assignments: ``Amber Otter 3f9a``. A name a student chose is shown as they
wrote it (cleaned and capped where it was stored). Every shown name is unique, whatever students
choose: two students who chose the same name (compared without case or spacing), or a name equal
to someone's pseudonym, each get a short suffix derived like the pseudonyms (``Ada · 7c01``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

_ADJECTIVES = ("Amber", "Azure", "Brisk", "Calm", "Coral", "Crimson", "Dawn", "Dusky", "Eager", "Fern", "Gentle",
               "Golden", "Hazel", "Ivory", "Jade", "Keen", "Lively", "Lunar", "Maple", "Misty", "Noble", "Olive",
               "Pearl", "Quiet", "Rapid", "Russet", "Sage", "Silver", "Steady", "Swift", "Teal", "Violet")
_ANIMALS = ("Badger", "Bison", "Crane", "Dingo", "Egret", "Falcon", "Gecko", "Heron", "Ibex", "Jackal", "Koala",
            "Lemur", "Lynx", "Marten", "Narwhal", "Ocelot", "Otter", "Panda", "Puffin", "Quokka", "Raven", "Salmon",
            "Seal", "Stoat", "Tapir", "Toucan", "Urchin", "Vole", "Walrus", "Wombat", "Yak", "Zebu")
#: Hex digits of a pseudonym's suffix, and of the suffix that tells equal chosen names apart.
PSEUDONYM_DIGITS = 4
SUFFIX_DIGITS = 4
SEPARATOR = " · "


@dataclass(frozen=True)
class ShownName:
    """How one student appears."""

    #: The name shown, unique on the leaderboard.
    name: str
    #: True when the student chose it (``LEADERBOARD_NAME``), False for a pseudonym.
    chosen: bool


def _digest(key: bytes, assignment: str, student: str) -> str:
    message = b"grader leaderboard\0" + assignment.encode("utf-8", "replace") + b"\0" + \
        student.encode("utf-8", "replace")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pseudonym(key: bytes, assignment: str, student: str) -> str:
    """The student's pseudonym on this assignment's leaderboard: two words and four hex digits."""
    digest = _digest(key, assignment, student)
    number = int(digest[:8], 16)
    return (f"{_ADJECTIVES[number % len(_ADJECTIVES)]} {_ANIMALS[(number // len(_ADJECTIVES)) % len(_ANIMALS)]} "
            f"{digest[8:8 + PSEUDONYM_DIGITS]}")


def _same(name: str) -> str:
    """What two names must differ in to be told apart: case and spacing do not count."""
    return "".join(name.casefold().split())


def shown_names(key: bytes, assignment: str, chosen: dict[str, str | None]) -> dict[str, ShownName]:
    """Each student's shown name: ``chosen[student]`` when it is set, else the pseudonym; names
    that would be alike get a suffix (longer ones if needed) until every shown name is unique."""
    digests = {student: _digest(key, assignment, student) for student in chosen}
    names = {student: (name, True) if name else (pseudonym(key, assignment, student), False)
             for student, name in chosen.items()}
    digits = SUFFIX_DIGITS
    while True:
        counts: dict[str, int] = {}
        for name, _ in names.values():
            counts[_same(name)] = counts.get(_same(name), 0) + 1
        alike = {student for student, (name, _) in names.items() if counts[_same(name)] > 1}
        if not alike:
            return {student: ShownName(name, was_chosen) for student, (name, was_chosen) in names.items()}
        if digits > len(next(iter(digests.values()))):  # only identical ids could get here; they are one student
            raise ValueError("two students have the same id")
        for student in alike:
            base = chosen[student] or pseudonym(key, assignment, student)
            names[student] = (f"{base}{SEPARATOR}{digests[student][-digits:]}", names[student][1])
        digits += 2
