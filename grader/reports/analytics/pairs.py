"""One ranked list of pairs of students whose submissions look alike, from two signals:

- **code**: the share of the smaller submission's winnowed fingerprints (``similarity``) that the
  other has too, after the stub's fingerprints and those common to much of the class (idioms
  any solution uses) are taken out;
- **wrong answers**: the bits of evidence of the wrong answers they share (``wrong``).

A pair is listed when either signal reaches its threshold. Pairs flagged by both come first, then
by how far the stronger signal is over its threshold. This is evidence for a person to judge:
nothing here is a verdict, and nothing is stored.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

from grader.reports.analytics.readonly import ReadOnlyGradebook
from grader.reports.analytics.similarity import Document, Passage, fingerprints, passages
from grader.reports.analytics.sources import latest_files, read_documents, stub_document
from grader.reports.analytics.wrong import Mistake, SharedAnswer, pair_evidence, shared_mistakes

#: Default: flag a pair when this share of the smaller submission's own code is in the other.
THRESHOLD = 0.5
#: Default: flag a pair when their shared wrong answers are worth this many bits (about one chance in 32).
MIN_BITS = 5.0
#: Code fingerprints found in more than this share of the submissions (and more than
#: ``COMMON_AT_LEAST`` of them) are common knowledge, as MOSS's -m option treats them.
COMMON_SHARE, COMMON_AT_LEAST = 0.1, 10
#: Submissions with fewer fingerprints of their own than this are not compared by code (the stub, nearly).
MIN_FINGERPRINTS = 8

NOTICE = ("This is evidence for a person to judge, not a verdict: similar code and identical wrong answers "
          "can have innocent explanations (the starter code, a study group, the lecture's own example). "
          "Nothing here is stored, and no grade has changed.")


@dataclass
class Pair:
    """Two students whose submissions look alike."""

    #: The first student, by name.
    a: str
    #: The second.
    b: str
    #: Share (0 to 1) of the smaller submission's own code fingerprints the other has; None when
    #: either file could not be compared.
    code: float | None
    #: Code fingerprints they share.
    shared_fingerprints: int
    #: Evidence of their shared wrong answers, in bits.
    bits: float
    #: The wrong answers they share, grouped by the students who gave them.
    mistakes: list[Mistake] = field(default_factory=list)
    #: Which signals reached their threshold: ``code``, ``wrong answers``.
    flagged_by: list[str] = field(default_factory=list)
    #: The code they share: line ranges of each, 1-based.
    passages: list[Passage] = field(default_factory=list)

    @property
    def shared_answers(self) -> list[SharedAnswer]:
        return [answer for mistake in self.mistakes for answer in mistake.answers]


@dataclass
class Similarity:
    """The pairs of one assignment worth a look, and how they were found."""

    assignment: str
    #: The gradebook read (a path, or a URL without its password).
    gradebook: str
    #: Students with a grade.
    students: int
    #: Of those, the files that could be read again and compared by code.
    compared: int
    #: The code threshold used.
    threshold: float
    #: The wrong-answer threshold used, in bits.
    min_bits: float
    #: Listed pairs, most suspicious first.
    pairs: list[Pair]
    #: Files skipped and anything else limiting what was compared.
    notes: list[str]
    #: What this is and is not.
    notice: str = NOTICE
    #: The code of the listed pairs' students as shown (``Document.lines``), for the page; not in the JSON.
    code: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict:
        data = asdict(self)
        del data["code"]
        return data


def _code_matches(documents: dict[str, Document], stub: Document | None
                  ) -> tuple[dict[str, dict], dict[tuple[str, str], set[int]], dict[str, int]]:
    """Each student's fingerprints, the ones each pair shares, and each student's count of their own."""
    prints = {student: fingerprints(document) for student, document in documents.items()}
    starter = set(fingerprints(stub)) if stub is not None else set()
    seen = Counter(h for found in prints.values() for h in set(found) - starter)
    common = max(COMMON_AT_LEAST, math.ceil(COMMON_SHARE * len(prints)))
    ignored = starter | {h for h, n in seen.items() if n > common}
    own = {student: len(set(found) - ignored) for student, found in prints.items()}
    holders: dict[int, list[str]] = defaultdict(list)  # an inverted index: only pairs that share something
    for student in sorted(prints):
        for h in set(prints[student]) - ignored:
            holders[h].append(student)
    shared: dict[tuple[str, str], set[int]] = defaultdict(set)
    for h, students in holders.items():
        for pair in combinations(students, 2):
            shared[pair].add(h)
    return prints, shared, own


def find_pairs(gradebook: ReadOnlyGradebook, assignment: str, *, stub: Path | None,
               threshold: float = THRESHOLD, min_bits: float = MIN_BITS) -> Similarity:
    """The ranked pairs of ``assignment``; a ``GradebookError`` if it has no grades. ``stub`` is
    the released stub.py, whose code does not count."""
    students = gradebook.require_grades(assignment)
    documents, notes = read_documents(latest_files(gradebook, assignment))
    stub_doc, stub_notes = stub_document(stub)
    notes += stub_notes
    prints, shared_code, own = _code_matches(documents, stub_doc)
    mistakes = pair_evidence(shared_mistakes(gradebook, assignment))
    pairs = []
    for a, b in sorted(set(shared_code) | set(mistakes)):
        shared = shared_code.get((a, b), set())
        smaller = min(own.get(a, 0), own.get(b, 0))
        code = len(shared) / smaller if smaller >= MIN_FINGERPRINTS else None
        if code is None and a in documents and b in documents:
            code = 0.0  # one of them is (nearly) the stub: no code of their own to share
        theirs = mistakes.get((a, b), [])
        evidence = sum(m.bits for m in theirs)
        flagged = (["code"] if code is not None and code >= threshold else []) + \
                  (["wrong answers"] if evidence >= min_bits else [])
        if flagged:
            pairs.append(Pair(a, b, code, len(shared), round(evidence, 3), theirs, flagged,
                              passages(prints[a], prints[b], shared) if shared else []))
    strength = {id(p): max((p.code or 0) / threshold, p.bits / min_bits) for p in pairs}
    pairs.sort(key=lambda p: (-len(p.flagged_by), -strength[id(p)], p.a, p.b))
    listed = {student for pair in pairs for student in (pair.a, pair.b)}
    return Similarity(assignment=assignment, gradebook=gradebook.where, students=students, compared=len(documents),
                      threshold=threshold, min_bits=min_bits, pairs=pairs, notes=notes,
                      code={s: documents[s].lines for s in sorted(listed) if s in documents})
