"""Submissions that write frames of their own to the sandbox's control channel (fd 3).

The child is assumed compromised: what it sends is checked at one boundary
(``grader.sandbox.replies``). Whatever a submission forges, the check it forged in ends as an
``error`` that blames the submission's process (never "tell the course staff", never a
traceback), the other checks earn what the honest code earns, and nothing it sends is big
enough to hurt the trusted process or the gradebook.
"""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from grader.course.assignment import get_assignment
from grader.grading.grader import Grader
from grader.sandbox.outcomes import InvalidReply

from conftest import SAMPLES, write

CORRECT = (SAMPLES / "perceptron" / "correct.py").read_text()
ACTIVATION_CHECKS = {"all_seven_activations", "unknown_activation_raises", "activations_on_random_inputs"}
# Write one frame to the control channel: 8-byte length, JSON header, blobs; ``seq`` finds the
# number of the request being answered, as an attacker reading the grader's source would.
FORGE = '''
import json as _json, os as _os, struct as _struct, sys as _sys

def _seq():
    frame = _sys._getframe(2)
    return frame.f_locals["self"]._seq

def _send(header, blobs=b""):
    data = header if isinstance(header, bytes) else _json.dumps(header).encode()
    _os.write(3, _struct.pack(">Q", len(data)) + data + blobs)
'''


@pytest.fixture(scope="module")
def grader(tmp_path_factory, forkserver, course_root):
    """Perceptron (NumPy only) with short limits, sharing the session's warm parent."""
    import shutil

    root = tmp_path_factory.mktemp("forged") / "course"
    shutil.copytree(course_root / "assignments" / "perceptron", root / "assignments" / "perceptron")
    (root / "reference").mkdir()
    shutil.copy(course_root / "reference" / "perceptron.py", root / "reference" / "perceptron.py")
    toml = root / "assignments" / "perceptron" / "assignment.toml"
    toml.write_text(toml.read_text().split("[limits]")[0] + "[limits]\ncheck_timeout = 2\nload_timeout = 3\n"
                    "submission_budget = 30\nwarm_imports = [\"numpy\"]\n")
    with Grader(get_assignment("perceptron", root), forkserver=forkserver) as graded:
        yield graded


def forging(tmp_path, grader, body: str, name: str = "forger"):
    """Grade the correct solution whose ``activation`` runs ``body`` (which forges) and then
    answers honestly."""
    source = CORRECT + FORGE + "\n_honest = activation\n\ndef activation(name, z):\n" \
        + textwrap.indent(textwrap.dedent(body), "    ") + "\n    return _honest(name, z)\n"
    return grader.grade_file(write(tmp_path / f"{name}.py", source), name)


def by_name(result):
    return {c.name: c for c in result.checks}


def assert_blamed_on_the_submission(result, lost=ACTIVATION_CHECKS, reason="invalid_reply"):
    """The forged-in checks are errors of the submission's process; every other check passes."""
    for name, check in by_name(result).items():
        if name in lost:
            assert check.status == "error" and check.score == 0, (name, check.message)
            assert check.reason == reason, (name, check.reason, check.message)
            assert "tell the course staff" not in check.message and "Traceback" not in check.message
            assert len(check.message) < 600, check.message
        else:
            assert check.status == "passed", (name, check.message)
    assert len(json.dumps(result.to_json())) < 40_000


FORGERIES = {
    # an answer to a request the grader did not make
    "wrong request number": '_send({"seq": -1, "value": 1})',
    # a dict entry whose key is a list (unhashable)
    "unhashable key": '_send({"seq": _seq(), "value": {"dict": [[[1], 2]]}})',
    # an array whose shape claims 2**80 elements over an empty blob
    "huge shape": '_send({"seq": _seq(), "value": {"ndarray": {"blob": 0, "dtype": "<f8", "shape": [2**40, 2**40]}}, '
                  '"blobs": [0]})',
    # a blob index that does not exist
    "blob out of range": '_send({"seq": _seq(), "value": {"ndarray": {"blob": 7, "dtype": "<f8", "shape": [1]}}})',
    # an absurd rank
    "absurd rank": '_send({"seq": _seq(), "value": {"ndarray": {"blob": 0, "dtype": "<f8", "shape": [1] * 40}}, '
                   '"blobs": [8]}, b"\\0" * 8)',
    # object arrays never cross: no pickle
    "object dtype": '_send({"seq": _seq(), "value": {"ndarray": {"blob": 0, "dtype": "|O", "shape": [1]}}, '
                    '"blobs": [8]}, b"\\0" * 8)',
    # a torch tensor in a NumPy-only assignment (decoding it would import torch in the grader)
    "tensor tag": '_send({"seq": _seq(), "value": {"tensor": {"blob": 0, "dtype": "<f4", "shape": [1]}}, '
                  '"blobs": [4]}, b"\\0" * 4)',
    # JSON nested 200,000 deep
    "deep JSON": '_send(b"[" * 200_000 + b"]" * 200_000)',
    # a header that is not UTF-8
    "bytes that are not UTF-8": '_send(b"\\xff\\xfe{}")',
    # a header that announces 60 MB
    "60 MB header": '_os.write(3, _struct.pack(">Q", 60 * 1024 * 1024) + b"{" * 1000)',
    # a value of more parts than allowed (within the header cap)
    "too many parts": '_send({"seq": _seq(), "value": {"list": [0] * 300_000}})',
    # a bad elapsed time
    "negative time": '_send({"seq": _seq(), "value": 1, "elapsed": -5})',
    # a blob list that is not a list of sizes
    "bad blob list": '_send({"seq": _seq(), "value": 1, "blobs": [-1]})',
    # an answer of no known kind
    "no known kind": '_send({"seq": _seq(), "surprise": True})',
    # a load event in the middle of a call
    "load event in a call": '_send({"event": "unit", "index": 0})',
}


@pytest.mark.parametrize("kind", list(FORGERIES))
def test_a_forged_answer_is_the_submissions_error_and_the_rest_is_graded(grader, tmp_path, kind):
    result = forging(tmp_path, grader, FORGERIES[kind])
    assert_blamed_on_the_submission(result, reason="reply_limit" if kind == "60 MB header" else "invalid_reply")
    message = by_name(result)["all_seven_activations"].message
    assert message.startswith("during activation(), "), message
    lost = sum(c.max_score for c in result.checks if c.name in ACTIVATION_CHECKS)
    assert lost == 6 and result.score == result.max_score - lost  # only the three activation checks


def test_forged_exception_reports_are_capped_and_cleaned(grader, tmp_path):
    # all_seven_activations calls activation() in one batch: the forged answer is a batch's.
    body = '''
    _send({"seq": _seq(), "results": [{"raised": {"type": "E" * 20_000, "mro": ["ValueError"] * 50,
                                                  "message": "\\x1b[2J" + "m" * 100_000,
                                                  "file": "cell 99", "line": 10**12}}] * 7})
    '''
    check = by_name(forging(tmp_path, grader, body))["all_seven_activations"]
    assert check.status == "error" and check.reason is None and check.where is None
    assert check.message.startswith("activation() raised " + "E" * 150) and "\x1b" not in check.message
    assert len(check.message) <= 2000


def test_forged_mutation_lists_are_capped(grader, tmp_path):
    body = '_send({"seq": _seq(), "results": [{"value": 1, "mutated": ["z"] * 20_000}] * 7})'  # answering a batch
    check = by_name(forging(tmp_path, grader, body))["all_seven_activations"]
    assert check.status == "failed" and check.message.startswith("activation() modified its argument z in place")


def test_forging_while_loading_fails_the_load_once_not_once_per_check(grader, tmp_path):
    source = CORRECT + FORGE + '\n_send({"event": "unit", "index": 999})\n'
    result = grader.grade_file(write(tmp_path / "load_forger.py", source), "load_forger")
    assert {c.reason for c in result.checks} == {"invalid_reply"}
    assert all(c.message.startswith("while loading your code, the process running your code sent an invalid answer "
                                    "(a unit index out of range)") for c in result.checks), result.checks[0].message
    assert result.duration < 10  # one failed load, not one per check


def test_a_forged_loaded_event_does_not_confuse_the_grader(grader, tmp_path):
    # "Loaded" early: the grader's next request is then answered by the real unit events.
    source = CORRECT + FORGE + '\n_send({"event": "loaded", "errors": [], "elapsed": 0})\n'
    result = grader.grade_file(write(tmp_path / "early_loaded.py", source), "early_loaded")
    assert all(c.status in ("error", "passed") for c in result.checks)
    assert all("tell the course staff" not in c.message for c in result.checks)
    assert any(c.reason == "invalid_reply" for c in result.checks)


def test_grading_a_numpy_assignment_never_imports_torch_in_the_grader(tmp_path, course_root):
    """Run in a fresh interpreter: a forged tensor tag must not make the trusted side import torch."""
    import subprocess
    import sys

    submission = write(tmp_path / "tensor.py", CORRECT + FORGE + "\n_honest = activation\n\ndef activation(name, z):\n"
                       "    " + FORGERIES["tensor tag"] + "\n    return _honest(name, z)\n")
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from grader.course.assignment import get_assignment
        from grader.grading.grader import Grader
        with Grader(get_assignment("perceptron", Path({str(course_root)!r}))) as grader:
            result = grader.grade_file(Path({str(submission)!r}), "tensor")
        print("torch" in sys.modules, result.score, result.max_score)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    imported, score, most = done.stdout.split()
    assert imported == "False" and float(score) == float(most) - 6  # the activation checks


def test_answers_built_to_amplify_stay_small_in_the_grader():
    """bench/trusted_memory.py: the grading process's peak memory under amplifying answers
    stays within a few tens of MB of a correct submission's (it was gigabytes: a 60 MB header
    parsed into 1.5 GB, a 24 MB array turned into a list of 3 million objects)."""
    import subprocess
    import sys

    from conftest import ROOT

    done = subprocess.run([sys.executable, str(ROOT / "bench" / "trusted_memory.py"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    baseline = figures.pop("correct submission")
    assert baseline["score"] == baseline["max_score"]
    for name, figure in figures.items():
        assert figure["peak_mb"] < baseline["peak_mb"] + 120, (name, figure, baseline)
        assert figure["score"] < figure["max_score"] and figure["json_bytes"] < 20_000, (name, figure)


BATCH_FORGERIES = {
    # fewer answers than the batch had cases
    "too few answers": '_send({"seq": _seq(), "results": []})',
    # an answer only a whole request can have, inside a batch
    "a per-call 'missing'": '_send({"seq": _seq(), "results": [{"missing": "x"}] * _cases()})',
    # a single value where a list of answers is due
    "a single value": '_send({"seq": _seq(), "value": 1})',
    # answers that are not objects
    "answers that are not objects": '_send({"seq": _seq(), "results": [7] * _cases()})',
    # a value of more parts than allowed, shared across the answers
    "too many parts in all": '_send({"seq": _seq(), "results": [{"value": {"list": [0] * 30_000}}] * _cases()})',
}
# The batch's case count, read as an attacker would, from the child's frame.
CASES = '''
def _up(name):
    frame = _sys._getframe(1)
    while name not in frame.f_locals:
        frame = frame.f_back
    return frame.f_locals[name]

def _seq():
    return _up("self")._seq

def _cases():
    return len(_up("cases"))
'''


@pytest.mark.parametrize("kind", list(BATCH_FORGERIES))
def test_a_forged_answer_to_a_batch_is_the_submissions_error(forkserver, course_root, tmp_path, kind):
    """conv's configuration loops go through ctx.calls: a batch's reply is checked as a whole."""
    import shutil

    root = tmp_path / "course"
    shutil.copytree(course_root / "assignments" / "conv", root / "assignments" / "conv")
    (root / "reference").mkdir()
    shutil.copy(course_root / "reference" / "conv.py", root / "reference" / "conv.py")
    source = (SAMPLES / "conv" / "correct.py").read_text() + FORGE + CASES + \
        "\n_honest = conv_output_size\n\ndef conv_output_size(*args, **kwargs):\n" \
        f"    {BATCH_FORGERIES[kind]}\n    return _honest(*args, **kwargs)\n"
    with Grader(get_assignment("conv", root), forkserver=forkserver) as grader:
        result = grader.grade_file(write(tmp_path / "conv.py", source), "forger")
    forged = [c for c in result.checks if c.reason == "invalid_reply"]
    assert forged, [(c.name, c.status, c.message) for c in result.checks]
    for check in forged:
        assert check.status == "error" and "tell the course staff" not in check.message
        # conv2d and the shape functions call conv_output_size too: each forged call is named as the one asked
        assert re.match(r"during \w+\(\), the process running your code sent "
                        r"an invalid answer", check.message), check.message
    assert all(c.reason != "grader_error" for c in result.checks)


def test_forged_exception_class_names_are_cleaned_and_capped_plain_ones_kept():
    from grader.sandbox import replies

    plain = replies._exception({"type": "ValueError", "mro": ["ValueError", "Exception", "BaseException", "object"]})
    assert plain.bases == ("ValueError", "Exception", "BaseException", "object")
    forged = replies._exception({"type": "E", "mro": ["Value\x1b[2JError", "\u202eKO", "N" * 5000, "ValueError"]})
    assert all("\x1b" not in name and "\u202e" not in name and len(name) <= 200 for name in forged.bases)
    assert forged.bases[-1] == "ValueError" and len(forged.bases) == 4
    with pytest.raises(InvalidReply):
        replies._exception({"type": "E", "mro": ["ValueError", 7]})


def test_exception_reports_alike_in_a_batch_are_checked_alike():
    """Reports that raise alike are read once per reply, by their exact fields: a line ``True``
    after a line ``1`` (equal, and hashed alike) is still refused, and the text is still cleaned."""
    from grader.sandbox.replies import batch_reply

    def raised(line, message="bad size"):
        return {"raised": {"type": "ValueError", "mro": ["ValueError", "Exception"], "message": message,
                           "file": "s.py", "line": line, "name": None}, "elapsed": 0.0}

    answers = batch_reply({"seq": 1, "results": [raised(3), raised(3), raised(4, "\x1b[31mred\x1b[0m")]}, [],
                          seq=1, allow_tensors=False, cases=3)
    assert [a.error.line for a in answers] == [3, 3, 4]
    assert answers[0].error is answers[1].error and answers[2].error.message == "red"
    with pytest.raises(InvalidReply, match="bad line number"):
        batch_reply({"seq": 1, "results": [raised(1), raised(True)]}, [], seq=1, allow_tensors=False, cases=2)
