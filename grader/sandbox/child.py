"""The request loop that runs inside the sandboxed process, next to the student's module.

It executes the submission's units (notebook cells or top-level statements), then answers
calls from the trusted side: call a student function, call a harness function with the
student's module, or fetch a module-level value. It holds no grading logic and no
reference: it only runs code and reports what happened, in the safe wire format.

Imports here must stay minimal (standard library, numpy, ``grader.sandbox.wire``): this module
is imported by the warm parent before every fork.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys
import time
import traceback
import types

import numpy as np

from grader.sandbox.wire import JSON_SCALARS, Decoder, Encoder, Remote, WireError, pack, read_frame


def _install_prefixes() -> list[str]:
    """Folders whose paths should not appear in a student's feedback (longest first)."""
    import sysconfig

    paths = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    paths.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the grader package
    return sorted((p.rstrip("/") + "/" for p in paths if p), key=len, reverse=True)


_INSTALL_PREFIXES = _install_prefixes()


def _without_install_paths(text: str) -> str:
    """``/…/site-packages/numpy/linalg/__init__.py`` becomes ``numpy/linalg/__init__.py``."""
    for prefix in _INSTALL_PREFIXES:
        text = text.replace(prefix, "")
    return text


class _Handles:
    """Objects that stayed in the sandbox, addressed by number from the trusted side."""

    def __init__(self):
        self._objects: dict[int, object] = {}

    def keep(self, obj) -> Remote:
        handle = len(self._objects) + 1
        self._objects[handle] = obj
        return Remote(handle, type(obj).__name__)

    def resolve(self, remote: Remote):
        try:
            return self._objects[remote.handle]
        except KeyError:
            raise WireError(f"unknown handle {remote.handle}") from None


def _exception_report(exc: BaseException, submission_files: set[str]) -> dict:
    """Type, message and the innermost place in the submission (file name, line) where ``exc`` was raised."""
    place: tuple[str | None, int | None] = (None, None)
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename in submission_files:
            place = (filename, lineno)
    if isinstance(exc, SyntaxError) and exc.filename in submission_files:
        place = (exc.filename, exc.lineno)
    try:
        message = _without_install_paths(str(exc))
    except Exception:  # a hostile __str__
        message = "(the exception's message could not be read)"
    if isinstance(exc, SystemExit):
        message = f"sys.exit({exc.code!r}) was called"
    # The name an ImportError, NameError or AttributeError is about (the missing module,
    # variable or attribute), so the trusted side can explain it without parsing the message.
    name = getattr(exc, "name", None) if isinstance(exc, (ImportError, NameError, AttributeError)) else None
    return {
        "type": type(exc).__name__[:200],
        "mro": [cls.__name__[:200] for cls in type(exc).__mro__][:32],
        "message": message[:2000],
        "file": place[0],
        "line": place[1],
        "name": name[:200] if isinstance(name, str) else None,
    }


def _array_leaves(value, path: str, found: list, argument, depth: int = 0) -> None:
    """Collect (argument, path inside it, array, copy) for the numpy arrays inside an argument,
    to spot in-place changes; ``argument`` is its position or keyword."""
    if depth > 8:
        return
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        found.append((argument, path, value, value.copy()))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if type(item) not in JSON_SCALARS:  # a size or a name holds no array: no call for it
                _array_leaves(item, f"{path}[{i}]", found, argument, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if type(item) not in JSON_SCALARS:
                _array_leaves(item, f"{path}[{key!r}]", found, argument, depth + 1)


def _argument_names(function, args: list, kwargs: dict) -> dict:
    """The name the student's code gives each argument (``dout``, ``cache``, ``args[1]``), by its
    position or keyword.

    Names come from the binding: a keyword given out of the signature's order, or an argument
    collected by ``*args``, keeps its own name."""
    names: dict = {i: f"argument {i + 1}" for i in range(len(args))} | {k: k for k in kwargs}
    try:
        signature = inspect.signature(function)
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return names
    position = 0
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            names.update({position + i: f"{name}[{i}]" for i in range(len(value))})
            position += len(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            continue  # keywords gathered by **kwargs keep their own names
        elif kind is inspect.Parameter.KEYWORD_ONLY or name in kwargs:
            names[name] = name
        else:
            names[position] = name
            position += 1
    return names


class Session:
    """The state of one sandboxed submission: its module, harness and handles."""

    def __init__(self, rfile, wfile):
        self._rfile = rfile
        self._wfile = wfile
        self.handles = _Handles()
        self.module: types.ModuleType | None = None
        self.harness: dict | None = None
        self.submission_files: set[str] = set()
        #: The number of the request being answered, echoed in its reply.
        self._seq = None
        #: The process that serves the trusted side; a process the student's code forked is not.
        self._pid = os.getpid()

    def reply(self, header: dict, blobs: list[bytes] = ()) -> None:
        """Answer the current request (its number goes with the answer)."""
        self.send(dict(header, seq=self._seq), blobs)

    def send(self, header: dict, blobs: list[bytes] = ()) -> None:
        self._leave_if_forked()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # the student may have replaced or closed it
                pass
        self._wfile.write(pack(header, list(blobs)))
        self._wfile.flush()

    # --- loading -------------------------------------------------------------------------

    def load(self, request: dict) -> None:
        name = request["module"]
        module = types.ModuleType(name)
        module.__file__ = request.get("filename", f"{name}.py")
        sys.modules[name] = module
        self.module = module
        flags = int(request.get("compile_flags", 0))
        skip = set(request.get("skip", []))
        errors = []
        started = time.perf_counter()
        for index, unit in enumerate(request["units"]):
            if index in skip:
                continue
            filename = unit["filename"]
            self.submission_files.add(filename)
            # Let tracebacks and inspect.getsource see the student's text.
            source = unit["source"]
            padded = "\n" * (unit.get("first_line", 1) - 1) + source
            linecache.cache[filename] = (len(padded), None, padded.splitlines(True), filename)
            self.send({"event": "unit", "index": index})
            try:
                code = compile(padded, filename, "exec", flags=flags, dont_inherit=True)
                exec(code, module.__dict__)
            except BaseException as exc:  # noqa: BLE001 - anything the student's top level does
                errors.append({"index": index, **_exception_report(exc, self.submission_files)})
        harness_source = request.get("harness")
        if harness_source is not None:
            self.harness = {"__name__": "harness"}
            exec(compile(harness_source, "harness.py", "exec"), self.harness)
        self.send({"event": "loaded", "errors": errors, "elapsed": time.perf_counter() - started})

    # --- calls ---------------------------------------------------------------------------

    def _lookup(self, target: str, name: str):
        namespace = self.harness if target == "harness" else vars(self.module)
        if namespace is None or name not in namespace:
            return None
        return namespace[name]

    def _function(self, request: dict):
        """The function a call or batch request names, or the answer to send when there is none."""
        target, name = request["target"], request["name"]
        function = self._lookup(target, name)
        if function is None:
            return None, {"missing": name}
        if not callable(function):
            return None, {"not_callable": name, "type": type(function).__name__}
        return function, None

    def _invoke(self, function, target: str, args, kwargs, encoder: Encoder) -> dict:
        """Run one call; what it returned (encoded into ``encoder``) or raised, as an answer."""
        if target == "harness":
            args = [self.module, *args]
        # Copies of the arrays inside the arguments, to spot in-place changes. Each is kept with
        # where it sits (argument position or keyword, and the path inside it); the student's
        # own names for the arguments are looked up only when one has changed: inspect.signature
        # on every call costs more than most calls.
        snapshots: list = []
        if target == "student":
            for position, value in enumerate(args):
                if type(value) not in JSON_SCALARS:  # holds no array: not searched
                    _array_leaves(value, "", snapshots, position)
            for keyword, value in kwargs.items():
                if type(value) not in JSON_SCALARS:  # holds no array: not searched
                    _array_leaves(value, "", snapshots, keyword)
        started = time.perf_counter()
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - report, never die, whatever the student raised
            return {"raised": _exception_report(exc, self.submission_files), "elapsed": time.perf_counter() - started}
        elapsed = time.perf_counter() - started
        changed = [(key, path) for key, path, array, before in snapshots
                   if array.shape != before.shape or not np.array_equal(array, before, equal_nan=True)]
        mutated = []
        if changed:
            names = _argument_names(function, args, kwargs)
            mutated = [f"{names.get(key, key)}{path}" for key, path in changed]
        mark = len(encoder.blobs)
        try:
            if mutated:
                return {"value": encoder.encode(result), "mutated": mutated, "elapsed": elapsed}
            return {"value": encoder.encode(result), "elapsed": elapsed}
        except (WireError, RecursionError) as exc:
            del encoder.blobs[mark:]  # what this value had put there is not referenced by anything
            return {"unsupported": str(exc), "elapsed": elapsed}

    def _decoded(self, request: dict, blobs: list[bytes], read):
        """The function a call or batch request names and what ``read(decoder)`` decodes of the
        request; or None, once the answer that there is nothing to call (or nothing readable to
        call it with) has been sent."""
        function, answer = self._function(request)
        if function is None:
            self.reply(answer)
            return None
        decoder = Decoder(blobs, resolve=self.handles.resolve)
        try:
            return function, read(decoder)
        except WireError as exc:
            self.reply({"protocol_error": str(exc)})
            return None

    def call(self, request: dict, blobs: list[bytes]) -> None:
        decoded = self._decoded(request, blobs, lambda d: (d.decode(request["args"]), d.decode(request["kwargs"])))
        if decoded is None:
            return
        function, (args, kwargs) = decoded
        encoder = Encoder(keep=self.handles.keep)
        self.reply(self._invoke(function, request["target"], args, kwargs, encoder), encoder.blobs)

    def batch(self, request: dict, blobs: list[bytes]) -> None:
        """Many calls of one function in one request, their answers in one reply: a check's
        loop over cases pays one round trip instead of one per case."""
        decoded = self._decoded(request, blobs, lambda d: d.decode_cases(request["cases"]))
        if decoded is None:
            return
        function, cases = decoded
        encoder = Encoder(keep=self.handles.keep)
        results = [self._invoke(function, request["target"], args, kwargs, encoder) for args, kwargs in cases]
        self.reply({"results": results}, encoder.blobs)

    def value(self, request: dict) -> None:
        name = request["name"]
        namespace = vars(self.module)
        if name not in namespace:
            self.reply({"missing": name})
            return
        self.reply_value(namespace[name])

    def reply_value(self, value, **extra) -> None:
        encoder = Encoder(keep=self.handles.keep)
        try:
            encoded = encoder.encode(value)
        except (WireError, RecursionError) as exc:
            self.reply({"unsupported": str(exc)})
            return
        self.reply({"value": encoded, **extra}, encoder.blobs)

    def _leave_if_forked(self) -> None:
        """A process the student's code forked (``os.fork()`` at top level or in a function) that
        comes back into this loop ends here, quietly: it would otherwise answer and read
        requests beside the real one, and the grader would see two voices on one channel."""
        if os.getpid() != self._pid:
            os._exit(0)

    def serve(self) -> None:
        while True:
            self._leave_if_forked()
            try:
                request, blobs = read_frame(self._rfile)
            except EOFError:
                return
            op = request.get("op") if isinstance(request, dict) else None
            self._seq = request.get("seq") if isinstance(request, dict) else None
            if op == "load":
                self.load(request)
            elif op == "call":
                self.call(request, blobs)
            elif op == "batch":
                self.batch(request, blobs)
            elif op == "value":
                self.value(request)
            elif op == "exit":
                return
            else:
                self.reply({"protocol_error": f"unknown op {op!r}"})


def serve(channel_fd: int) -> None:
    """Answer requests on ``channel_fd`` until the trusted side closes it."""
    rfile = os.fdopen(channel_fd, "rb", buffering=1 << 16, closefd=False)
    wfile = os.fdopen(os.dup(channel_fd), "wb", buffering=1 << 16)
    Session(rfile, wfile).serve()
