"""The safe format in which values cross the sandbox boundary, in both directions.

A message is a JSON header plus a list of binary blobs. Structure travels as tagged JSON;
numpy arrays travel as their raw bytes, with dtype and shape in the header (object and void
dtypes are refused, so no pointer or pickle ever crosses); torch tensors travel as arrays
with a ``tensor`` tag. Nothing is ever unpickled.

Values that have no safe encoding (a student's own class, a closure, an object array)
stay where they were made: the encoder replaces them with a ``Remote`` handle naming
the object's type, so the other side can pass it back (a CS231n ``cache``) or report
"unsupported return type".

This module is imported by the sandboxed child, so it must only import the standard
library and numpy (torch is imported lazily, and only if a tensor is actually seen).

Frame layout on the stream: 8-byte big-endian header length, header bytes (UTF-8 JSON
with a ``"blobs"`` list of lengths), then the blobs back to back.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from dataclasses import dataclass

import numpy as np

#: Upper bound on one message, so a hostile child cannot make the grader allocate without limit
#: (the trusted side reads with the tighter bounds of the assignment's ``Limits``).
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: Upper bound on a message's JSON header: structure only, arrays travel as blobs. Checked
#: before the header is read or parsed.
MAX_HEADER_BYTES = 4 * 1024 * 1024
#: Nodes (values, list items, dict entries) one decoded value may hold.
MAX_NODES = 200_000
#: Dimensions of one array (numpy allows 64; nothing graded here has more than a handful).
MAX_RANK = 16
#: Array dtype kinds that may cross: bool, integers, floats, complex, strings. Never objects,
#: void (structured, pointers), datetimes.
ARRAY_KINDS = frozenset("biufcUS")
_LENGTH = struct.Struct(">Q")


class WireError(Exception):
    """A message that cannot be encoded, decoded or framed."""


class FrameTooLarge(WireError):
    """A frame whose announced size is over the reader's limit (nothing of it was read)."""


@dataclass(frozen=True)
class Remote:
    """A value that stayed on the other side of the boundary, by handle."""

    handle: int
    type_name: str

    def __repr__(self) -> str:
        return f"<{self.type_name} object (not transferable)>"


def _is_tensor(value) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


class Encoder:
    """Turns a value into tagged JSON plus blobs; unencodable objects become handles via ``keep``."""

    def __init__(self, keep=None):
        # keep(obj) -> Remote for objects that cannot travel; None means "refuse them".
        self._keep = keep
        self.blobs: list[bytes] = []

    def _blob(self, array: np.ndarray) -> dict:
        # The raw bytes of a plain-dtype array, with its dtype and shape in the header: what .npy
        # holds, without .npy's own header, whose parsing (ast.literal_eval) costs more than the data.
        self.blobs.append(np.ascontiguousarray(array).tobytes())
        return {"blob": len(self.blobs) - 1, "dtype": array.dtype.str, "shape": list(array.shape)}

    def _opaque(self, value):
        if isinstance(value, Remote):
            return {"remote": value.handle, "type": value.type_name}
        if self._keep is None:
            raise WireError(f"cannot send a value of type {type(value).__name__}")
        remote = self._keep(value)
        return {"remote": remote.handle, "type": remote.type_name}

    def encode(self, value, depth: int = 0):
        if depth > 64:
            raise WireError("value is nested more than 64 levels deep")
        # Exact built-in types first: the common case (sizes, shapes, lists of counts) needs
        # neither an isinstance ladder nor a look for torch.
        kind = type(value)
        if kind is int:
            return value if -2**63 < value < 2**63 else {"bigint": str(value)}
        if kind is str or kind is bool or value is None:
            return value
        if kind is tuple:
            return {"tuple": self._items(value, depth)}
        if kind is list:
            return {"list": self._items(value, depth)}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value if abs(value) < 2**63 else {"bigint": str(value)}
        if isinstance(value, float):  # includes numpy.float64, a float subclass
            value = float(value)
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject or value.dtype.kind == "V":
                return self._opaque(value)
            return {"ndarray": self._blob(value)}
        if isinstance(value, np.generic):
            if value.dtype.hasobject or value.dtype.kind == "V":
                return self._opaque(value)
            return {"npscalar": self._blob(np.asarray(value))}
        if _is_tensor(value):
            array = value.detach().cpu().resolve_conj().resolve_neg().numpy()
            return {"tensor": self._blob(array), "requires_grad": bool(value.requires_grad)}
        if type(value) is list:
            return {"list": [self.encode(v, depth + 1) for v in value]}
        if type(value) is tuple:
            return {"tuple": [self.encode(v, depth + 1) for v in value]}
        if type(value) is dict and all(type(k) in (str, int) for k in value):
            return {"dict": [[k, self.encode(v, depth + 1)] for k, v in value.items()]}
        return self._opaque(value)

    def encode_cases(self, cases) -> list:
        """The cases of a batch, ``[(args, kwargs), ...]``, as a batch request carries them: a plain
        JSON ``[ARGS, KEYWORDS]`` pair per case, the items and entries that a ``list`` and a
        ``dict`` node would wrap (two nodes fewer per case to build, and for the child to read)."""
        encoded = []
        for args, kwargs in cases:
            if not all(type(k) is str for k in kwargs):
                raise WireError("keyword argument names must be strings")
            encoded.append([self._items(args, 1), [[k, self.encode(v, 2)] for k, v in kwargs.items()]])
        return encoded

    def _items(self, values, depth: int) -> list:
        """The items of a list or tuple: plain ones as they are, the rest encoded (most items of
        a case list are small ints and strings, and a call per item is most of their cost)."""
        items = []
        for v in values:
            kind = type(v)
            if kind is str or kind is bool or v is None or (kind is int and -2**63 < v < 2**63):
                items.append(v)
            else:
                items.append(self.encode(v, depth + 1))
        return items


#: The types a JSON scalar decodes to: in the tagged format each stands for itself.
JSON_SCALARS = frozenset({int, float, str, bool, type(None)})


class Decoder:
    """Turns tagged JSON plus blobs back into values; ``resolve`` maps handles to local objects.

    Everything is checked as it is read (this is how the trusted side reads a sandbox's
    answers): at most ``max_nodes`` nodes, arrays of the allowed kinds with a shape that matches
    their blob exactly, dict keys that are strings or ints, tensors only if ``allow_tensors``
    (decoding one imports torch, which a NumPy-only assignment's grader must not load)."""

    def __init__(self, blobs: list[bytes], resolve=None, *, max_nodes: int = MAX_NODES, allow_tensors: bool = True):
        self._blobs = blobs
        self._resolve = resolve
        self._nodes_left = max_nodes
        self._allow_tensors = allow_tensors

    def _array(self, spec) -> np.ndarray:
        if not isinstance(spec, dict):
            raise WireError(f"bad array reference {str(spec)[:80]!r}")
        index, shape = spec.get("blob"), spec.get("shape")
        if type(index) is not int or not 0 <= index < len(self._blobs):
            raise WireError(f"bad blob reference {str(index)[:40]!r}")
        if (not isinstance(shape, list) or len(shape) > MAX_RANK
                or not all(type(n) is int and n >= 0 for n in shape)):
            raise WireError(f"bad array shape {str(shape)[:80]!r}")
        dtype_name = spec.get("dtype")
        if not isinstance(dtype_name, str) or len(dtype_name) > 16:
            raise WireError(f"bad array dtype {str(dtype_name)[:40]!r}")
        try:
            dtype = np.dtype(dtype_name)
        except (TypeError, ValueError, OverflowError) as exc:
            raise WireError(f"bad array dtype: {str(exc)[:80]}") from None
        if dtype.hasobject or dtype.kind not in ARRAY_KINDS or dtype.itemsize == 0 and dtype.kind in "US":
            raise WireError(f"refused array dtype {dtype}")  # never objects: no pickle, no pointers
        data = self._blobs[index]
        # Python ints: a product of huge dimensions must not wrap around to match a small blob.
        if len(data) != dtype.itemsize * math.prod(shape):
            raise WireError("array payload does not match its dtype and shape")
        # A writable copy: it may be handed to a student's function, and frombuffer is read-only.
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()

    def _spend(self, count: int = 1) -> None:
        self._nodes_left -= count
        if self._nodes_left < 0:
            raise WireError("value has too many parts")

    def decode(self, node, depth: int = 0):
        if depth > 64:
            raise WireError("value is nested more than 64 levels deep")
        self._spend()
        kind = type(node)
        if kind in JSON_SCALARS:
            return node
        if kind is not dict:
            if isinstance(node, (bool, int, float, str)):
                return node
            raise WireError(f"malformed value {str(node)[:80]!r}")
        # One tag per node (two for a tensor's requires_grad and a handle's type): taken by its
        # name, containers first, since nearly every node of a batch of cases is one.
        if len(node) == 1:
            ((tag, body),) = node.items()
            if tag == "list":
                return self._values(body, depth)
            if tag == "tuple":
                return tuple(self._values(body, depth))
            if tag == "dict":
                return self._dict(body, depth)
            if tag == "ndarray":
                return self._array(body)
            if tag == "npscalar":
                array = self._array(body)
                if array.shape != ():
                    raise WireError("a numpy scalar must have shape ()")
                return array[()]
            if tag == "float":
                if body not in ("inf", "-inf", "nan"):
                    raise WireError(f"malformed float {str(body)[:20]!r}")
                return float(body)
            if tag == "bigint":
                if not isinstance(body, str) or not 0 < len(body) <= 400 or not body.lstrip("-").isdigit():
                    raise WireError("malformed big integer")
                return int(body)
        elif len(node) != 2 or not (node.keys() == {"tensor", "requires_grad"} or node.keys() == {"remote", "type"}):
            raise WireError(f"malformed value {str(node)[:80]!r}")
        if "tensor" in node:
            if not self._allow_tensors:
                raise WireError("a torch tensor where this assignment uses NumPy only")
            import torch  # only when a tensor actually arrives, in an assignment that uses torch

            tensor = torch.from_numpy(np.array(self._array(node["tensor"])))
            return tensor.requires_grad_(True) if node.get("requires_grad") is True and tensor.is_floating_point() else tensor
        if "remote" in node:
            handle, type_name = node["remote"], node.get("type", "object")
            if type(handle) is not int or not isinstance(type_name, str):
                raise WireError("malformed handle")
            remote = Remote(handle, type_name[:200])
            return self._resolve(remote) if self._resolve else remote
        raise WireError(f"unknown value tag in {[str(k)[:20] for k in sorted(node, key=str)[:3]]}")

    def decode_cases(self, node) -> list[tuple[list, dict]]:
        """A batch request's cases (``Encoder.encode_cases``): ``(args, kwargs)`` per case."""
        cases = []
        for case in self._items(node):
            if type(case) is not list or len(case) != 2:
                raise WireError("malformed case of a batch")
            kwargs = self._dict(case[1], 1)
            if not all(type(k) is str for k in kwargs):
                raise WireError("keyword argument names must be strings")
            cases.append((self._values(case[0], 1), kwargs))
        return cases

    def _dict(self, entries, depth: int) -> dict:
        result = {}
        for entry in self._items(entries):
            if type(entry) is not list or len(entry) != 2 or type(entry[0]) not in (str, int):
                raise WireError("malformed dict entry")
            key, value = entry
            result[key] = value if type(value) in JSON_SCALARS else self.decode(value, depth + 1)
        return result

    def _items(self, items) -> list:
        if not isinstance(items, list):
            raise WireError("malformed list of values")
        self._spend(len(items))  # before recursing: a long list is refused at once
        return items

    def _values(self, items, depth: int) -> list:
        """The decoded items of a list or tuple. Plain JSON scalars (most items of a case list:
        sizes, counts, names) stand for themselves, counted by ``_items``, with no call each."""
        return [value if type(value) in JSON_SCALARS else self.decode(value, depth + 1) for value in self._items(items)]


def pack(header: dict, blobs: list[bytes], encoded: tuple[str, str] | None = None) -> bytes:
    """One frame: the header (with blob lengths added) and the blobs. ``encoded`` is a field of
    the header given as JSON text already, ``(name, text)`` (``grader.sandbox.encoded``)."""
    header = dict(header, blobs=[len(b) for b in blobs])
    text = json.dumps(header, allow_nan=False)
    if encoded is not None:
        name, value = encoded
        text = f"{text[:-1]}, {json.dumps(name)}: {value}}}"
    head = text.encode("utf-8")
    return b"".join([_LENGTH.pack(len(head)), head, *blobs])


def _read_exact(stream, count: int) -> bytes:
    chunks = []
    remaining = count
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream, limit: int = MAX_MESSAGE_BYTES, header_limit: int = MAX_HEADER_BYTES
               ) -> tuple[dict, list[bytes]]:
    """Read one frame from a binary stream; raises EOFError when the stream ends.

    Sizes are checked before anything is read or parsed: the header against ``header_limit``,
    the whole frame (header and blobs) against ``limit``."""
    (length,) = _LENGTH.unpack(_read_exact(stream, _LENGTH.size))
    if length > min(limit, header_limit):
        raise FrameTooLarge(f"message header of {length} bytes exceeds the limit of {min(limit, header_limit)}")
    try:
        header = json.loads(_read_exact(stream, length).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"malformed message header: {str(exc)[:120]}") from None
    sizes = header.get("blobs", []) if isinstance(header, dict) else None
    if not isinstance(sizes, list) or len(sizes) > 100_000 or not all(type(s) is int and s >= 0 for s in sizes):
        raise WireError("malformed blob list")
    if sum(sizes) + length > limit:
        raise FrameTooLarge(f"message of {sum(sizes) + length} bytes exceeds the limit of {limit}")
    return header, [_read_exact(stream, size) for size in sizes]
