"""What isolation layers there are, and whether each works on this host (``grader doctor``'s table)."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass

#: Every layer, in the order ``grader doctor`` lists them (and a child enters them).
LAYERS = ("identity", "network", "filesystem", "processes", "rlimits", "seccomp")
#: Layers TA grading refuses to run without (unless told ``--insecure``).
REQUIRED = ("identity", "network", "filesystem", "processes")
TITLES = {
    "identity": "own unprivileged identity",
    "network": "no network (own network namespace)",
    "filesystem": "private filesystem view (mount namespace, minimal root)",
    "processes": "own PID namespace (every process dies with the sandbox)",
    "rlimits": "resource limits (CPU, memory, processes, file size, open files)",
    "seccomp": "seccomp filter (second wall)",
}


@dataclass(frozen=True)
class LayerStatus:
    """Whether one isolation layer works on this host, and how (or why not)."""

    name: str
    available: bool
    detail: str

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)

    def as_dict(self) -> dict:
        return dict(asdict(self), title=self.title)


def missing(layers: list[LayerStatus], names=REQUIRED) -> list[LayerStatus]:
    return [layer for layer in layers if layer.name in names and not layer.available]


def describe_platform() -> str:
    return f"{platform.system()} {platform.release()} {platform.machine()}"
