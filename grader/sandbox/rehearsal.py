"""The request loop on made-up requests, run by the warm parent in its late warm-up.

A sandbox's first run of the request loop (``grader.sandbox.child``) does things alone that every
sandbox repeats: specialising the interpreter's bytecode, filling caches made on first use,
lazily importing (numpy's array printing, traceback's pieces). Each writes to memory shared with
the warm parent, and each written page is copied (a fault) in every sandbox. ``rehearse`` runs a
load and calls of each kind through the loop in the warm parent, so that every later sandbox
inherits all that done. Its requests are made up here: nothing of a submission, a check or the
reference; its answers are thrown away, and it leaves no module or source behind.
"""

from __future__ import annotations

import io
import linecache
import sys

import numpy as np

from grader.sandbox.child import Session
from grader.sandbox.wire import Encoder, pack

#: What ``rehearse`` loads: the kind of code the request loop runs for a NumPy submission.
_REHEARSAL = """
import numpy as np
def f(w, X, y=1):
    z = np.asarray(X, dtype=float) @ w
    out = np.where(z > 0, 1.0, 0.0) + np.tanh(z) + np.exp(-np.abs(z)) + np.maximum(z, 0.0)
    ones = np.concatenate([np.ones(z.shape + (1,)), np.zeros((len(z), 1))], axis=-1)
    return out * y, bool(out.sum() > 0), (int(z.shape[0]), ones.shape[1]), [float(out.mean())]
def g(n):
    raise ValueError("no " + str(n))
def h(x, w, stride=1, padding=1):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, c, height, width = x.shape
    size = (height - w.shape[2]) // stride + 1
    out = np.zeros((n, w.shape[0], size, size))
    for i in range(size):
        for j in range(size):
            patch = x[:, :, i * stride:i * stride + w.shape[2], j * stride:j * stride + w.shape[3]]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    scores = out.reshape(n, -1)
    shifted = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
    return out, float(-np.log(p[:, 0] + 1e-12).mean()), int(np.argmax(scores[0])), np.maximum(out, 0).T.copy()
RNG = np.random.default_rng(0).normal(size=3)
"""


class _Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return len(data)


def rehearse() -> None:
    """Run a load and calls of each kind through the request loop, on made-up requests read from
    memory, answers thrown away. Leaves nothing behind: not the module, not its source."""
    cases, call = Encoder(), Encoder()
    w, X = np.linspace(-1.0, 1.0, 4), np.ones((3, 4))
    requests = [({"op": "load", "module": "_rehearsal", "filename": "_rehearsal.py",
                  "units": [{"source": _REHEARSAL, "filename": "_rehearsal.py"},
                            {"source": "g(0)", "filename": "_rehearsal.py",
                             "first_line": _REHEARSAL.count("\n") + 1}]}, []),
                ({"op": "batch", "target": "student", "name": "f",
                  "cases": cases.encode_cases([((w, X), {}), ((w, X), {"y": 0})])}, cases.blobs),
                ({"op": "call", "target": "student", "name": "f", "args": call.encode([w, X]),
                  "kwargs": call.encode({"y": 2})}, call.blobs),
                ({"op": "call", "target": "student", "name": "g", "args": {"list": [1]}, "kwargs": {"dict": []}}, []),
                ({"op": "call", "target": "student", "name": "h", "args": call.encode([np.ones((2, 2, 5, 5)),
                                                                                      np.ones((3, 2, 3, 3))]),
                  "kwargs": {"dict": []}}, call.blobs),
                ({"op": "value", "name": "RNG"}, [])]
    frames = b"".join(pack(dict(header, seq=seq), blobs) for seq, (header, blobs) in enumerate(requests, 1))
    try:
        Session(io.BufferedReader(io.BytesIO(frames)), io.BufferedWriter(_Discard())).serve()
    finally:
        sys.modules.pop("_rehearsal", None)
        linecache.cache.pop("_rehearsal.py", None)
