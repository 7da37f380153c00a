"""The one boundary where the trusted side reads what a sandboxed child sent.

The child is assumed compromised: its student may write frames of their own to the control
socket. Every frame is parsed here, against what its event may contain, before anything else
looks at it: types, sizes, indices in range, the decoded value's node count and array shapes.
What fails is the submission's fault and becomes ``InvalidReply`` (a check ``error`` saying the
submission's process sent something invalid), never an exception inside a check or the grader.

Event shapes (what ``grader.sandbox.child`` sends):

    loading   {"event": "unit", "index": I}     a unit is about to run (indices only go up)
              {"event": "loaded", "errors": [ERROR + {"index": I}], "elapsed": S}
    a call    {"seq": N, "missing": NAME} | {"seq": N, "not_callable": NAME, "type": T}
              {"seq": N, "raised": ERROR, "elapsed": S} | {"seq": N, "unsupported": TEXT}
              {"seq": N, "value": VALUE, "mutated": [PATH], "elapsed": S} + blobs
              {"seq": N, "protocol_error": TEXT}
    a batch   {"seq": N, "results": [one answer above per case, without "seq"]} + blobs (shared)
    ERROR     {"type": NAME, "mro": [NAME], "message": TEXT, "file": NAME | null, "line": L | null,
               "name": NAME | null}   (name: the module, variable or attribute an ImportError,
                                       NameError or AttributeError is about)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from grader.sandbox.outcomes import InvalidReply
from grader.sandbox.wire import Decoder, WireError
from grader.text import SHORT_LIMIT, clean

#: Entries of a ``mutated`` list that are kept (one is enough to say what went wrong).
MAX_MUTATED = 8


@dataclass(frozen=True)
class ExceptionReport:
    """An exception raised by the student's code, as the child described it (already checked)."""

    type_name: str
    #: The names of the exception's class and its bases (``mro`` in the child's report).
    bases: tuple[str, ...]
    message: str
    #: The file name a traceback would show (``cell 4``, ``perceptron.py``), or None.
    file: str | None
    line: int | None
    #: What an ImportError, NameError or AttributeError is about (``matplotlib``, ``plt``), or "".
    name: str = ""

    @property
    def detail(self) -> str:
        """``ValueError: bad name``, or only the type when there is no message."""
        return f"{self.type_name}: {self.message}" if self.message else self.type_name


@dataclass(frozen=True)
class UnitStarted:
    index: int


@dataclass(frozen=True)
class Loaded:
    #: The units that raised, by index.
    errors: dict[int, ExceptionReport]
    elapsed: float


class Reply(NamedTuple):
    """A checked answer to a call or a value request: exactly one of its kinds is set. (A named
    tuple: a batch makes one per case, and a frozen dataclass costs several times as much to make.)"""

    kind: str  # value | missing | not_callable | raised | unsupported | protocol_error
    value: object = None
    #: ``not_callable``: the type of what the name holds; ``unsupported``/``protocol_error``: why.
    text: str = ""
    error: ExceptionReport | None = None
    #: Where the call changed its arguments in place (``dout``, ``cache[0]``); empty if nowhere.
    mutated: tuple[str, ...] = ()
    elapsed: float = 0.0


def _invalid(what: str) -> InvalidReply:
    return InvalidReply(f"the process running your code sent an invalid answer ({what}); "
                        "only the grader may write to its channel")


def _text(value, what: str, limit: int = SHORT_LIMIT, *, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{what} is not text")
    return clean(value, limit)


def _seconds(value) -> float:
    if type(value) is float and 0.0 <= value <= 1e6:  # nearly every answer: no further look
        return value
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise _invalid("a bad elapsed time")
    return min(float(value), 1e6)


def _exception(report) -> ExceptionReport:
    if not isinstance(report, dict):
        raise _invalid("an exception report that is not an object")
    mro = report.get("mro", [])
    if not isinstance(mro, list) or len(mro) > 64:
        raise _invalid("a bad exception class list")
    line = report.get("line")
    if line is not None and (isinstance(line, bool) or not isinstance(line, int)):
        raise _invalid("a bad line number")
    return ExceptionReport(
        type_name=_text(report.get("type"), "an exception type", 200) or "Exception",
        bases=_class_names(mro),
        message=_text(report.get("message", ""), "an exception message", 2000),
        file=_text(report.get("file"), "a file name", 200, optional=True) or None,
        line=line,
        name=_text(report.get("name"), "an exception's name", 200, optional=True))


_PLAIN = (str, int, type(None))


def _known_exception(report, reports: dict | None) -> ExceptionReport:
    """``_exception(report)``, remembered in ``reports`` by the report's exact fields (each a
    str, an int or None, compared with its type: a line ``True`` is never taken for ``1``)."""
    if reports is None or type(report) is not dict:
        return _exception(report)
    mro = report.get("mro", [])
    fields = (report.get("type"), report.get("message", ""), report.get("file"), report.get("line"),
              report.get("name"))
    if type(mro) is not list or not all(type(v) in _PLAIN for v in fields) or not all(type(n) is str for n in mro):
        return _exception(report)
    key = (fields, tuple(mro))
    known = reports.get(key)
    if known is None:
        known = reports[key] = _exception(report)
    return known


def _class_names(mro: list) -> tuple[str, ...]:
    """An exception's class names, each checked and cleaned; names that are short printable
    ASCII already (every built-in class's, nearly every student's) are taken as they are."""
    if all(type(name) is str and len(name) <= 200 and name.isascii() and name.isprintable() for name in mro):
        return tuple(mro)
    return tuple(_text(name, "an exception class", 200) for name in mro)


def load_event(header: dict, *, units: int, after: int | None) -> UnitStarted | Loaded:
    """An event of the load phase; ``after`` is the last unit index seen (indices only go up)."""
    if not isinstance(header, dict):
        raise _invalid("a message that is not an object")
    event = header.get("event")
    if event == "unit":
        index = header.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < units:
            raise _invalid("a unit index out of range")
        if after is not None and index <= after:
            raise _invalid("a unit started twice")
        return UnitStarted(index)
    if event == "loaded":
        errors = header.get("errors", [])
        if not isinstance(errors, list) or len(errors) > units:
            raise _invalid("a bad list of errors")
        found: dict[int, ExceptionReport] = {}
        for error in errors:
            index = error.get("index") if isinstance(error, dict) else None
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < units or index in found:
                raise _invalid("an error for a unit that does not exist")
            found[index] = _exception(error)
        return Loaded(found, _seconds(header.get("elapsed")))
    raise _invalid(f"an unexpected message while loading ({_text(str(event)[:40], 'an event')!r})")


def reply(header: dict, blobs: list[bytes], *, seq: int, allow_tensors: bool) -> Reply:
    """The answer to request ``seq``, checked and with its value decoded."""
    _check_seq(header, seq)
    return _answer(header, Decoder(blobs, allow_tensors=allow_tensors))


def batch_reply(header: dict, blobs: list[bytes], *, seq: int, allow_tensors: bool, cases: int) -> list[Reply]:
    """The answers to batch request ``seq``: one per case, in order (each checked as a single
    answer is; all of them share one decoder, so one bound on the parts of the whole reply);
    a single answer (``missing``, ``not_callable``, ``protocol_error``) stands for every case."""
    _check_seq(header, seq)
    decoder = Decoder(blobs, allow_tensors=allow_tensors)
    if "results" not in header:
        single = _answer(header, decoder)
        if single.kind in ("value", "raised", "unsupported"):
            raise _invalid("a single answer to a batch of calls")
        return [single] * cases
    results = header["results"]
    if not isinstance(results, list) or len(results) != cases:
        raise _invalid(f"{len(results) if isinstance(results, list) else 'no'} answers to {cases} calls")
    # Cases that raise tend to raise alike (the same ValueError from the same line): each distinct
    # report is checked and cleaned once per reply.
    reports: dict = {}
    answers = [_answer(result, decoder, reports) for result in results]
    if any(answer.kind not in ("value", "raised", "unsupported") for answer in answers):
        raise _invalid("an answer to one call of a batch that only a whole request can have")
    return answers


def _check_seq(header, seq: int) -> None:
    if not isinstance(header, dict):
        raise _invalid("a message that is not an object")
    if header.get("seq") != seq or isinstance(header.get("seq"), bool):
        raise _invalid("an answer to a request that was not asked")


def _answer(header, decoder: Decoder, reports: dict | None = None) -> Reply:
    if not isinstance(header, dict):
        raise _invalid("an answer that is not an object")
    elapsed = _seconds(header.get("elapsed"))
    if "value" in header:
        try:
            value = decoder.decode(header["value"])
        except (WireError, RecursionError) as exc:
            raise _invalid(str(exc)) from None
        mutated = header.get("mutated")
        if not mutated:
            return Reply("value", value, "", None, (), elapsed)
        if not isinstance(mutated, list):
            raise _invalid("a bad list of modified arguments")
        paths = tuple(_text(path, "an argument path", 200) for path in mutated[:MAX_MUTATED])
        return Reply("value", value, "", None, paths, elapsed)
    if "raised" in header:
        return Reply("raised", error=_known_exception(header["raised"], reports), elapsed=elapsed)
    if "missing" in header:
        return Reply("missing")
    if "not_callable" in header:
        return Reply("not_callable", text=_text(header.get("type"), "a type name", 200))
    if "unsupported" in header:
        return Reply("unsupported", text=_text(header["unsupported"], "a reason", 500), elapsed=elapsed)
    if "protocol_error" in header:
        return Reply("protocol_error", text=_text(header["protocol_error"], "a reason", 500))
    raise _invalid("an answer of no known kind")
