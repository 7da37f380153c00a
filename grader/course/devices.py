"""Where an assignment's models train: ``device = "cpu"`` (the default) or ``"cuda"`` in assignment.toml.

A grader refuses to start (``AssignmentError``, one line) when the assignment asks for CUDA and
torch on this machine has none, so nothing is graded on a device that is not there. The check runs
in the trusted process when grading starts (``Grader.start``), before any submission; torch is
imported for it only when the setting is not ``cpu``.
"""

from __future__ import annotations

from grader.course.assignment import Assignment
from grader.errors import AssignmentError

DEVICES = ("cpu", "cuda")


def device(assignment: Assignment) -> str:
    """The assignment's ``device`` setting (``cpu``, ``cuda`` or ``cuda:N``), checked."""
    value = assignment.extra.get("device", "cpu")
    kind, _, index = value.partition(":") if isinstance(value, str) else ("", "", "")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise AssignmentError(f"{assignment.directory / 'assignment.toml'}: device must be \"cpu\" or \"cuda\" "
                              f"(or \"cuda:N\"), not {value!r}")
    return value


def require_device(assignment: Assignment) -> str:
    """The assignment's device, once this machine is known to have it; ``AssignmentError`` otherwise."""
    wanted = device(assignment)
    if wanted == "cpu":
        return wanted
    try:
        import torch
    except ImportError:
        raise AssignmentError(f"{assignment.name} trains on {wanted!r} (device in assignment.toml), but torch is not "
                              "installed here") from None
    index = int(wanted.partition(":")[2] or 0)
    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        raise AssignmentError(f"{assignment.name} trains on {wanted!r} (device in assignment.toml), but this machine "
                              "has no such GPU (torch.cuda.is_available() is "
                              f"{torch.cuda.is_available()}): grade on a machine with one, or set device = \"cpu\"")
    return wanted


def needs_gpu(assignment: Assignment) -> bool:
    """True when the assignment's sandboxes need the GPU's device files (``device`` is CUDA)."""
    return device(assignment) != "cpu"
