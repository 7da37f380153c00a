"""grader similar: fingerprints of wrong answers stored at grading time, code winnowing, ranked pairs."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from grader.checks import CheckFailed, expect_close, expect_equal
from grader.cli import cli
from grader.compare import EXACT, compare
from grader.fingerprint import fingerprint
from grader.gradebook import Gradebook
from grader.reports.analytics.pairs import NOTICE, Pair, Similarity, find_pairs
from grader.reports.analytics.readonly import ReadOnlyGradebook
from grader.reports.analytics.similar_page import render_similar_html
from grader.reports.analytics.similarity import Document, Passage, fingerprints, passages, tokens, winnow
from grader.reports.analytics.sources import document_of
from grader.reports.analytics.wrong import shared_mistakes
from grader.results import CheckResult, SubmissionResult
from grader.sandbox.wire import Remote

import browser
import similar_class
from conftest import ROOT, write

STUB = ROOT / "assignments" / "perceptron" / "stub.py"


# --- fingerprints of failed comparisons --------------------------------------------------------

def test_a_fingerprint_is_a_hash_of_path_and_both_values_not_the_values():
    yours, expected = np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0])
    digest = fingerprint(yours, expected, path="dx")
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert fingerprint(yours, expected, path="dx") == digest  # stable
    assert fingerprint(yours, expected, path="dw") != digest  # another place in the check
    assert fingerprint(yours + 1, expected, path="dx") != digest  # another wrong answer
    assert fingerprint(yours, expected + 1, path="dx") != digest  # another question (a per-student variant)


def test_floats_agree_to_six_significant_digits_and_zero_signs_and_nans_do_not_matter():
    base = np.array([0.1 + 0.2, -0.0, np.nan, 1234.5678, 9.9999996])
    same = np.array([0.3, 0.0, np.nan, 1234.56781, 10.0])
    assert fingerprint(base, None, path="x") == fingerprint(same, None, path="x")
    assert fingerprint(np.array([0.300001]), None, path="x") != fingerprint(np.array([0.3]), None, path="x")
    # lists and tuples alike, as compare treats them; an array is not a list of its numbers
    assert fingerprint([1, (2.0, "a")], None, path="x") == fingerprint((1, [2.0, "a"]), None, path="x")
    assert fingerprint(np.array([1, 2]), None, path="x") != fingerprint([1, 2], None, path="x")
    # shape and kind count: the same bytes in another shape, or ints against bools, are other answers
    assert fingerprint(np.zeros((2, 3)), None, path="x") != fingerprint(np.zeros((3, 2)), None, path="x")
    assert fingerprint(np.array([1, 0]), None, path="x") != fingerprint(np.array([True, False]), None, path="x")
    # dicts by key, in any order; objects that could not cross the boundary by their type
    assert fingerprint({"b": 1, "a": 2}, None, path="x") == fingerprint({"a": 2, "b": 1}, None, path="x")
    assert fingerprint(Remote(1, "Cache"), None, path="x") == fingerprint(Remote(2, "Cache"), None, path="x")
    assert fingerprint(Remote(1, "Cache"), None, path="x") != fingerprint(Remote(1, "Other"), None, path="x")


def test_a_value_too_large_to_encode_has_no_fingerprint():
    assert fingerprint([[0]] * 200_000, None, path="x") is None
    assert fingerprint(np.zeros(200_000), None, path="x") is None


def test_a_failed_comparison_carries_its_fingerprint_and_the_same_message():
    wrong = compare(np.array([1.0, 2.5]), np.array([1.0, 2.0]), path="db")
    assert not wrong.ok and wrong.fingerprint == fingerprint(np.array([1.0, 2.5]), np.array([1.0, 2.0]), path="db")
    assert wrong.message.startswith("db: not close (rtol=1e-06, atol=1e-08): 1 / 2 elements (50.0%) differ")
    nested = compare({"W1": [np.zeros(2), 3]}, {"W1": [np.zeros(2), 4]}, path="grads", tol=EXACT)
    assert nested.message == "grads['W1'][1]: 3 (yours), expected 4"
    assert nested.fingerprint == fingerprint({"W1": [np.zeros(2), 3]}, {"W1": [np.zeros(2), 4]}, path="grads")
    assert compare(np.ones(2), np.ones(2)).fingerprint is None
    with pytest.raises(CheckFailed) as failed:
        expect_equal([1, 0], [1, 1], name="mistakes")
    assert str(failed.value) == "mistakes[1]: 0 (yours), expected 1"
    assert failed.value.fingerprint == fingerprint([1, 0], [1, 1], path="mistakes")
    with pytest.raises(CheckFailed) as failed:
        expect_close(2.0, 1.0, name="loss")
    assert failed.value.fingerprint == fingerprint(2.0, 1.0, path="loss")


def test_fingerprints_are_stored_and_read_back(gradebook_url):
    checks = [CheckResult("a", 0.0, 1.0, "failed", "x: 1 (yours), expected 2", fingerprint="f" * 64),
              CheckResult("b", 1.0, 1.0, "passed", "")]
    result = SubmissionResult(student="ann", assignment="perceptron", file="ann.py", content_hash="h", score=1.0,
                              max_score=2.0, status="graded", error=None, checks=checks)
    with Gradebook(gradebook_url) as gradebook:
        gradebook.record(result)
        stored, = gradebook.latest("perceptron")
    assert [c.fingerprint for c in stored.checks] == ["f" * 64, None]


# --- code similarity: tokens, winnowing, passages ----------------------------------------------

ORIGINAL = '''import numpy as np


def predict(w, X):
    """Labels from the weights."""
    return step(X @ w)


def train(X, y, epochs=10):
    # start from zeros
    w = np.zeros(X.shape[1])
    for epoch in range(epochs):
        for xi, yi in zip(X, y):
            w = w + (yi - predict(w, xi)) * xi
    return w
'''
DISGUISED = '''import numpy as np
def train(data, labels, epochs=10):
    weights = np.zeros(data.shape[1])   # a comment of my own
    for e in range(epochs):
        for point, label in zip(data, labels):
            weights = weights + (label - predict(weights, point)) * point
    return weights
def predict(weights, data):
    return step(data @ weights)
'''


def test_renaming_comments_docstrings_and_layout_leave_the_tokens_alone():
    def texts(source):
        return [t.text for t in tokens(source)]

    assert sorted(texts(ORIGINAL)) == sorted(texts(DISGUISED))
    assert texts("x = np.zeros(3)  # c\n") == ["V", "=", "V", ".", "zeros", "(", "N", ")", ";"]
    assert texts("x = np.ones(3)\n") != texts("x = np.zeros(3)\n")  # the API a copier keeps is kept
    assert texts("for i in range(len(a)):\n    pass\n")[:6] == ["for", "V", "in", "range", "(", "len"]
    assert texts('def f():\n    """doc"""\n    return "s"\n') == ["def", "V", "(", ")", ":", ";", "{", "return", "S",
                                                              ";", "}"]
    assert texts("x = (1 +\n") == ["V", "=", "(", "N", "+"]  # code that does not tokenize: what came before


def test_winnowing_keeps_the_window_minima_and_finds_every_long_shared_passage():
    assert winnow([5, 3, 3, 9, 1, 7, 8, 2], window=3) == [2, 4, 7]  # rightmost of equal minima
    assert winnow([4, 2], window=3) == [1] and winnow([], window=3) == []
    original, disguised = fingerprints(Document.from_python(ORIGINAL)), fingerprints(Document.from_python(DISGUISED))
    shared = set(original) & set(disguised)
    # Reordered functions: only the runs of tokens across the seam between two functions differ.
    assert len(shared) >= 0.75 * min(len(original), len(disguised))
    unrelated = fingerprints(Document.from_python("def g(a):\n    while a:\n        a = a // 2 - 1\n    return a\n"))
    assert not set(unrelated) & set(original)
    # predict (lines 4-6 of one, 8-9 of the other), then train (9-15 and 2-7): in their own order in each
    assert passages(original, disguised, shared) == [Passage((4, 6), (8, 9)), Passage((9, 15), (2, 7))]


def test_a_notebook_is_compared_on_its_code_cells():
    notebook = similar_class.as_notebook(DISGUISED + "\n%matplotlib inline\n")
    document = document_of(notebook.encode(), "hw.ipynb")
    assert document.lines[0] == "# ── cell 2 ──" and "# My perceptron homework" not in document.lines
    assert [line for line in document.lines if line.startswith("# ── cell")] == [
        "# ── cell 2 ──", "# ── cell 3 ──", "# ── cell 4 ──"]
    assert "pass" in document.lines  # the magic neutralised, its line kept
    cells, file = set(fingerprints(document)), set(fingerprints(Document.from_python(ORIGINAL)))
    assert len(cells & file) >= 0.75 * min(len(cells), len(file))


# --- a class graded through the real grader ------------------------------------------------------

#: Copies of three students, disguised; ben's has his rare mistake too, gus's is a notebook.
COPIES = {
    "ben2": ("ben", {"guess": "g", "direction": "sgn", "history": "log", "count": "n_wrong", "xi": "point",
                     "yi": "label", "arr": "a", "result": "res", "table": "funcs"}, [5, 2, 0, 4, 1, 3]),
    "ada2": ("ada", {"mistakes": "errs", "errors": "e", "wrong": "bad", "ones": "col", "out": "o"}, [3, 1, 5, 0, 2, 4]),
    "gus2": ("gus", {"state": "st", "mistakes_now": "k", "hit": "h", "pad": "widths", "a": "arr"}, [1, 0, 3, 2, 5, 4]),
}
#: Students with a grade whose files are no longer where they were graded (the class is 40).
ARCHIVED = 28


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, perceptron_grader):
    folder = tmp_path_factory.mktemp("class")
    files = {student: "".join(similar_class.solution(student)) for student in similar_class.STYLES}
    for copy, (original, renames, order) in COPIES.items():
        files[copy] = similar_class.disguise(similar_class.solution(original), renames=renames, order=order,
                                             comment="my own work")
    files["gus2"] = similar_class.as_notebook(files["gus2"])
    db = folder / "gradebook.db"
    with Gradebook.open(str(db)) as gradebook:
        for student, text in files.items():
            path = write(folder / "submissions" / (student + (".ipynb" if student == "gus2" else ".py")), text)
            gradebook.record(perceptron_grader.grade_file(path, student))
        for number in range(ARCHIVED):
            path = write(folder / "archived" / f"x{number:02d}.py", files["ada"] + f"# {number}\n")
            gradebook.record(perceptron_grader.grade_file(path, path.stem))
            path.unlink()
        changed = write(folder / "submissions" / "zed.py", files["ada"] + "# zed\n")
        gradebook.record(perceptron_grader.grade_file(changed, "zed"))
        changed.write_text(files["ada"] + "# zed, edited after grading\n")
    return db


def _find(db, **options):
    with ReadOnlyGradebook(str(db)) as gradebook:
        return find_pairs(gradebook, "perceptron", stub=STUB, **options)


def test_copies_are_flagged_and_independent_work_and_a_common_mistake_are_not(graded_class):
    found = _find(graded_class)
    assert found.students == 7 + 3 + ARCHIVED + 1 and found.compared == 10
    assert [(p.a, p.b, p.flagged_by) for p in found.pairs] == [
        ("ben", "ben2", ["code", "wrong answers"]), ("gus", "gus2", ["code"]), ("ada", "ada2", ["code"])]
    ben = found.pairs[0]
    assert ben.code > 0.85 and ben.bits == pytest.approx(math.log2(found.students - 1), abs=1e-3)
    assert [a.check for a in ben.shared_answers] == [
        "update_on_each_case", "lecture_worked_example", "update_random", "xor_never_converges",
        "default_w0_is_zeros", "train_on_random_separable_data"]
    assert all(p.code >= 0.85 and p.passages for p in found.pairs)
    gone = [n for n in found.notes if "is no longer there" in n]
    assert len(gone) == ARCHIVED and any(n.startswith("zed: ") and "has changed since it was graded" in n
                                         for n in found.notes)

    # The four who made the same mistake alone share it, as one mistake of seven wrong answers...
    with ReadOnlyGradebook(str(graded_class)) as gradebook:
        mistakes = shared_mistakes(gradebook, "perceptron")
    common = next(m for m in mistakes if m.students == tuple(sorted(similar_class.STEP_AT_ZERO)))
    assert len(common.answers) == 7 and {a.students for a in common.answers} == {4}
    assert common.bits == pytest.approx(math.log2(38 / 3), abs=1e-3) and common.bits < 5
    # ...and by lowering the thresholds far enough they would show, independent work included:
    loose = _find(graded_class, threshold=0.3, min_bits=3.0)
    assert ("cai", "dee", ["wrong answers"]) in [(p.a, p.b, p.flagged_by) for p in loose.pairs]
    assert ("ada", "gus", ["code"]) in [(p.a, p.b, p.flagged_by) for p in loose.pairs]  # 3 short functions alike


def test_the_terminal_and_json_say_it_is_evidence_for_a_person(graded_class):
    out = CliRunner().invoke(cli, ["similar", "perceptron", "--db", str(graded_class)], catch_exceptions=False)
    assert out.exit_code == 0
    lines = out.output.splitlines()
    assert lines[0] == ("perceptron: 39 students, 10 files compared by code; 3 pairs over a threshold "
                        "(code 50%, wrong answers 5 bits)")
    assert [line.split("│")[1].strip() for line in lines if line.startswith("│ ") and "&" in line] == [
        "ben & ben2", "gus & gus2", "ada & ada2"]
    assert lines[-1].startswith("This is evidence for a person to judge, not a verdict")
    data = json.loads(CliRunner().invoke(cli, ["similar", "perceptron", "--db", str(graded_class), "--json"],
                                         catch_exceptions=False).output)
    assert data["notice"] == NOTICE and "code" not in data
    assert [(p["a"], p["b"]) for p in data["pairs"]] == [("ben", "ben2"), ("gus", "gus2"), ("ada", "ada2")]
    assert data["pairs"][0]["mistakes"][0]["students"] == ["ben", "ben2"]


def test_the_page_shows_each_pair_side_by_side_in_a_browser(graded_class, tmp_path):
    before = hashlib.sha256(graded_class.read_bytes()).hexdigest()
    page = tmp_path / "similar.html"
    out = CliRunner().invoke(cli, ["similar", "perceptron", "--db", str(graded_class), "--out", str(page)],
                             catch_exceptions=False)
    assert out.output.endswith(f"wrote {page}\n")
    html = page.read_text()
    assert hashlib.sha256(graded_class.read_bytes()).hexdigest() == before
    assert html.count('<section class="pair"') == 3 and NOTICE in html.replace("&#x27;", "'")
    assert "<h3>ben2</h3>" in html and "sgn" in html and 'class="p0"' in html
    assert "update_random</code> <span class=\"hidden-check\">(hidden)</span>" in html
    shown = browser.render(html.encode(), tmp_path)
    assert shown.title == "Perceptron updates: submissions that look alike"
    assert shown.scripts == 0 and shown.images == [] and shown.text_length > 3000
    assert shown.requests == ["/harness.html", "/check.js", "/page.html"]


def test_student_text_on_the_page_is_escaped():
    pair = Pair("<b>a</b>", "b", 0.9, 20, 0.0, [], ["code"], [Passage((1, 1), (1, 1))])
    page = render_similar_html(Similarity("hw", "g.db", 2, 2, 0.5, 5.0, [pair], ["<i>note</i>"],
                                          code={"<b>a</b>": ["x = '<script>'"], "b": ["</td></table>"]}))
    assert "<b>a</b>" not in page and "<script>" not in page and "</td></table>" not in page.split("<h3>b</h3>")[1][:80]
    assert "&lt;b&gt;a&lt;/b&gt;" in page and "x = &#x27;&lt;script&gt;&#x27;" in page and "&lt;i&gt;note" in page


def test_without_the_stub_or_the_gradebook_it_says_so(graded_class, tmp_path):
    with ReadOnlyGradebook(str(graded_class)) as gradebook:
        found = find_pairs(gradebook, "perceptron", stub=None)
    assert found.notes[-1].startswith("the assignment's stub.py was not found in the course folder")
    missing = CliRunner().invoke(cli, ["similar", "perceptron", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 1 and missing.output.startswith("GradebookError: no gradebook at ")
    other = CliRunner().invoke(cli, ["similar", "conv", "--db", str(graded_class)])
    assert other.exit_code == 1
    assert other.output == f"GradebookError: the gradebook {graded_class} has no grades for 'conv' (it has: perceptron)\n"


def test_shared_wrong_answers_are_grouped_in_sql_and_weighed_by_rarity(gradebook_url):
    def result(student, answers):
        checks = [CheckResult(name, 0.0 if digest else 1.0, 1.0, "failed" if digest else "passed", "",
                              visibility="hidden", fingerprint=digest)
                  for name, digest in zip(("c1", "c2", "c3"), answers)]
        return SubmissionResult(student=student, assignment="hw", file=f"{student}.py", content_hash=student,
                                score=0.0, max_score=3.0, status="graded", error=None, checks=checks)

    rare, common, other = "a" * 64, "b" * 64, "c" * 64
    with Gradebook(gradebook_url) as gradebook:
        gradebook.record(result("ann", [None, None, None]))  # her older run shared the rare answers...
        for student, answers in [("ann", [rare, rare, None]), ("bob", [rare, rare, common]),  # ...and so does her latest
                                 ("cy", [None, None, common]), ("di", [None, None, common]), ("ed", [None, other, common]),
                                 ("fe", [None, None, None]), ("gu", [None, None, None]), ("ho", [None, other, None])]:
            gradebook.record(result(student, answers))
    with ReadOnlyGradebook(gradebook_url) as gradebook:
        mistakes = shared_mistakes(gradebook, "hw")
    # 8 students: a pair alone (1 in 7 others: 2.8 bits, once for two checks), four alike (3 in 7: 1.2 bits)
    assert [(m.students, [a.check for a in m.answers], round(m.bits, 3)) for m in mistakes] == [
        (("ann", "bob"), ["c1", "c2"], round(math.log2(7), 3)), (("ed", "ho"), ["c2"], round(math.log2(7), 3)),
        (("bob", "cy", "di", "ed"), ["c3"], round(math.log2(7 / 3), 3))]
    assert mistakes[0].answers[0].takers == 8
