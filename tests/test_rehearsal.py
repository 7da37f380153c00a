"""The warm parent's late warm-up runs the request loop on made-up requests (``rehearsal.rehearse``),
so that every later sandbox inherits it warmed up; nothing of it is left for a submission to see."""

import contextlib
import io
import linecache
import sys

from grader.sandbox import rehearsal
from grader.sandbox.forkserver import ForkServer
from grader.sandbox.wire import read_frame

from test_isolation import run


def test_the_rehearsal_answers_every_kind_of_request_and_leaves_nothing_behind(monkeypatch):
    answers = bytearray()

    class Keep(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            answers.extend(data)
            return len(data)

    monkeypatch.setattr(rehearsal, "_Discard", Keep)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rehearsal.rehearse()
    stream, headers = io.BufferedReader(io.BytesIO(bytes(answers))), []
    with contextlib.suppress(EOFError):
        while True:
            headers.append(read_frame(stream)[0])
    kinds = [next(k for k in ("event", "results", "value", "raised", "protocol_error") if k in h) for h in headers]
    assert kinds == ["event", "event", "event", "results", "value", "raised", "value", "value"]
    assert headers[2]["errors"][0]["type"] == "ValueError"  # the unit that raises, as a submission's would
    assert [sorted(r) for r in headers[3]["results"]] == [["elapsed", "value"], ["elapsed", "value"]]
    assert printed.getvalue() == "" and "_rehearsal" not in sys.modules and "_rehearsal.py" not in linecache.cache


def test_a_sandbox_after_the_late_warm_up_sees_nothing_of_the_rehearsal():
    with ForkServer(("numpy",)) as server:
        run(server, "def probe():\n    return 0\n")  # the first sandbox: then the warm parent warms up late
        value, output = run(server, """
            import linecache, sys
            def probe():
                return ["_rehearsal" in sys.modules, "_rehearsal.py" in linecache.cache,
                        sorted(name for name in sys.modules if name.startswith("_rehearsal"))]
        """)
    assert value == [False, False, []] and output == ""
