"""How a warm parent's interpreter is started: ``python -I -S``, with the import path handed over.

``site`` costs a fresh interpreter 15-25 ms before its first import: it runs every ``.pth``
file in site-packages, and the one of the grader's own editable install imports pathlib,
importlib.util and urllib, which numpy does not need. The warm parent's start is on the way to
every ``grader check`` result, so it starts without ``site`` and is told what ``site`` would
have worked out: the site-packages folders and the folders their ``.pth`` files list, the
venv's ``sys.prefix``, and where the ``grader`` package is. Only ``grader`` is found there (as
the editable install's finder does), never the checkout's other folders: the reference
solutions sit beside it.

A ``.pth`` line that runs code (another package installed in editable mode, say) cannot be
handed over as a folder; where there is one, the warm parent starts with ``site`` as before.
"""

from __future__ import annotations

import os
import site
import sys

import grader

#: ``.pth`` files whose code a warm parent does without: the grader's own editable install (the
#: package's folder is handed over instead) and setuptools' shim for ``import distutils``.
_CODE_NOT_NEEDED = ("__editable__.grader-", "distutils-precedence.pth")

#: The warm parent's first lines (``-c``): its arguments are the control channel's descriptor,
#: the folder holding the grader package, ``sys.prefix``, ``sys.exec_prefix``, then the folders.
_BOOT = """\
import sys
from importlib.machinery import PathFinder
fd, root, sys.prefix, sys.exec_prefix, *folders = sys.argv[1:]
sys.argv[1:] = [fd]
sys.path.extend(folders)
class _Grader:
    @staticmethod
    def find_spec(name, path=None, target=None):
        return PathFinder.find_spec(name, [root]) if name == "grader" else None
sys.meta_path.append(_Grader)
from grader.sandbox.zygote import run
run()
"""


def warm_parent_command(fd: int) -> list[str]:
    """The command line of a warm parent talking on descriptor ``fd``."""
    folders = site_folders()
    if folders is None:
        return [sys.executable, "-I", "-m", "grader.sandbox.zygote", str(fd)]
    root = os.path.dirname(os.path.dirname(os.path.abspath(grader.__file__)))
    return [sys.executable, "-I", "-S", "-c", _BOOT, str(fd), root, sys.prefix, sys.exec_prefix, *folders]


def site_folders(site_packages: list[str] | None = None) -> list[str] | None:
    """What ``site`` adds to the import path of an isolated (``-I``) interpreter: each
    site-packages folder, then the existing folders its ``.pth`` files list, in ``site``'s
    order; None if a ``.pth`` file runs code that cannot be done without."""
    folders: list[str] = []
    for folder in site.getsitepackages() if site_packages is None else site_packages:
        if not os.path.isdir(folder) or folder in folders:
            continue
        folders.append(folder)
        for name in sorted(n for n in os.listdir(folder) if n.endswith(".pth")):
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as lines:
                    entries = [line.rstrip() for line in lines]
            except (OSError, UnicodeDecodeError):
                return None
            for entry in entries:
                if not entry or entry.startswith("#"):
                    continue
                if entry.startswith(("import ", "import\t")):
                    if name.startswith(_CODE_NOT_NEEDED):
                        continue
                    return None
                path = os.path.abspath(os.path.join(folder, entry))
                if os.path.isdir(path) and path not in folders:
                    folders.append(path)
    return folders
