"""What this host allows the sandbox: for ``grader doctor`` and ``grader check``.

``host_report()`` starts a warm sandbox parent the way grading does, reads which isolation
layers its start-up probe found working, runs one tiny sandbox to time a fork-run-reap and to
look at the layers from the inside, and returns plain data (``HostReport.to_dict()``).

The policy itself lives with the graders: TA grading starts them with ``require_isolation``,
and each refuses to start (a one-line ``SandboxError``) where its warm parent found a namespace
layer missing (``--insecure`` turns that off); a student's ``grader check`` prints
``missing_layers_warning`` and runs anyway.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata

from grader.sandbox import isolation
from grader.sandbox.forkserver import ForkServer, missing_layers_warning
from grader.sandbox.isolation import LayerStatus
from grader.sandbox.limits import Limits

STARTUP_MODE = "warm fork server: one warm parent per grading worker imports numpy and torch once, then forks a sandbox per submission"

# Run inside one sandbox: what the layers look like from the inside.
_INSIDE = '''
import os, socket
def look(hidden):
    seen = {"uid": os.getuid(), "pid": os.getpid(), "processes_visible": len([p for p in os.listdir("/proc") if p.isdigit()])}
    seen["hidden_paths_visible"] = [p for p in hidden if os.path.exists(p)]
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1)
        s.connect(("127.0.0.1", 9))
        s.send(b"")
        seen["network"] = "reachable"
    except OSError as exc:
        seen["network"] = f"unreachable ({exc.strerror or exc})"
    return seen
'''


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@dataclass
class HostReport:
    """Which isolation layers work on this host, and what the sandbox runs with."""

    python: str
    python_executable: str
    numpy: str | None
    torch: str | None
    platform: str
    #: How sandboxes are started.
    startup_mode: str
    #: ``root`` (a dedicated uid per sandbox slot), ``userns`` (unprivileged) or ``none``.
    identity_mode: str
    layers: list[LayerStatus] = field(default_factory=list)
    #: Median milliseconds to fork, isolate, run a one-line function and reap a sandbox (None if not measured).
    sandbox_ms: float | None = None
    #: What one sandbox saw from the inside (uid, pid, network, hidden paths visible).
    inside: dict | None = None

    @property
    def missing(self) -> list[LayerStatus]:
        """Required layers (namespaces, identity) this host does not allow."""
        return isolation.missing(self.layers)

    @property
    def missing_names(self) -> list[str]:
        return [layer.name for layer in self.missing]

    @property
    def isolated(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict:
        return {
            "python": self.python, "python_executable": self.python_executable, "numpy": self.numpy,
            "torch": self.torch, "platform": self.platform, "startup_mode": self.startup_mode,
            "identity_mode": self.identity_mode, "isolated": self.isolated, "missing": self.missing_names,
            "layers": [layer.as_dict() for layer in self.layers], "sandbox_ms": self.sandbox_ms,
            "inside": self.inside,
        }


def _look_inside(server: ForkServer, runs: int) -> tuple[float, dict]:
    from grader.sandbox.session import SubmissionSandbox
    from grader.intake.submission import python_submission

    hidden = sorted({str(p) for p in _hidden_paths()})
    times, seen = [], {}
    for _ in range(max(1, runs)):
        started = time.perf_counter()
        sandbox = SubmissionSandbox(server, Limits(), python_submission(_INSIDE, "doctor.py", "doctor"),
                                    module_name="doctor")
        sandbox.start_check(30)
        try:
            seen = sandbox.call("student", "look", (hidden,), {})
        finally:
            sandbox.close()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1), seen


def _hidden_paths():
    """Paths a sandbox must not see: the project checkout (this package's folder), the course's
    reference solutions, and what is in the home folder (except the way to the interpreter)."""
    from pathlib import Path

    import grader
    from grader.course.assignment import default_course_root

    yield Path(grader.__file__).resolve().parent
    yield default_course_root() / "reference"
    needed = isolation.python_folders()
    try:
        entries = sorted(Path.home().iterdir())[:20]
    except OSError:
        entries = []
    for entry in entries:
        if not any(isolation.inside(folder, str(entry)) for folder in needed):
            yield entry


def host_report(*, warm_imports: tuple[str, ...] = ("numpy", "torch"), measure: int = 5) -> HostReport:
    """Start a sandbox parent as grading would and report what works here.

    ``measure`` sandboxes are forked to time a fork-run-reap and to look at the layers from the
    inside (0: only the start-up probe). Raises ``SandboxError`` if no sandbox can start at all.
    """
    report = HostReport(
        python=platform.python_version(), python_executable=sys.executable, numpy=_version("numpy"),
        torch=_version("torch"), platform=isolation.describe_platform(), startup_mode=STARTUP_MODE,
        identity_mode="none")
    with ForkServer(warm_imports) as server:
        report.identity_mode = server.mode if any(layer.available and layer.name == "identity"
                                                  for layer in server.layers) else "none"
        report.layers = list(server.layers)
        if measure:
            report.sandbox_ms, report.inside = _look_inside(server, measure)
    return report
