"""Peak memory of the trusted grading process under answers built to amplify it.

Each case is graded in a fresh interpreter (the perceptron assignment, NumPy only, all
isolation layers the host allows) and the grading process's peak resident set size is read
from the kernel (``ru_maxrss``) after it, beside a correct submission's for comparison:

    .venv/bin/python bench/trusted_memory.py [--json]

The cases: a frame that announces a 60 MB JSON header; a 24 MB array returned where a list
of per-epoch counts is expected; a list of ~90,000 empty lists (as many parts as fit in the
header limit); a raised exception whose message and type name are megabytes long.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORRECT = (ROOT / "samples" / "perceptron" / "correct.py").read_text()
FORGE = '''
import json as _json, os as _os, struct as _struct, sys as _sys
def _seq():
    return _sys._getframe(2).f_locals["self"]._seq
def _send(data: bytes):
    _os.write(3, _struct.pack(">Q", len(data)) + data)
'''

CASES = {
    "correct submission": CORRECT,
    "60 MB JSON header": CORRECT + FORGE + "\n_honest = train_perceptron\ndef train_perceptron(*a, **k):\n"
                         "    _os.write(3, _struct.pack('>Q', 60 * 1024 * 1024) + b'[' * (1 << 20))\n"
                         "    return _honest(*a, **k)\n",
    "24 MB array for a list": CORRECT + "\nimport numpy as _np\n_honest = train_perceptron\n"
                              "def train_perceptron(*a, **k):\n    w, _ = _honest(*a, **k)\n"
                              "    return w, _np.zeros(3_000_000)\n",
    "90,000 nested lists": CORRECT + FORGE + "\n_honest = activation\ndef activation(name, z):\n"
                           "    _send(_json.dumps({'seq': _seq(), 'value': {'list': [{'list': []}] * 90_000}}).encode())\n"
                           "    return _honest(name, z)\n",
    "megabyte exception text": CORRECT + "\ndef activation(name, z):\n"
                               "    raise type('E' * 1_000_000, (ValueError,), {})('m' * 5_000_000)\n",
}

_DRIVER = r'''
import json, resource, sys
from pathlib import Path
from grader.course.assignment import get_assignment
from grader.grading.grader import Grader
root, path = sys.argv[1], sys.argv[2]
with Grader(get_assignment("perceptron", Path(root))) as grader:
    result = grader.grade_file(Path(path), "amplifier")
    stored = len(json.dumps(result.to_json()))
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "score": result.score, "max_score": result.max_score, "json_bytes": stored}))
'''


def measure() -> dict[str, dict]:
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, source in CASES.items():
            path = Path(folder) / "amplifier.py"
            path.write_text(source)
            done = subprocess.run([sys.executable, "-c", _DRIVER, str(ROOT), str(path)], capture_output=True,
                                  text=True, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"{name}: {done.stderr}")
            figures[name] = json.loads(done.stdout.splitlines()[-1])
    return figures


def main() -> None:
    figures = measure()
    if "--json" in sys.argv:
        print(json.dumps(figures))
        return
    print(f"{'case':28} {'peak RSS':>10} {'score':>8} {'--json line':>12}")
    for name, figure in figures.items():
        print(f"{name:28} {figure['peak_mb']:8.0f} MB {figure['score']:5g}/{figure['max_score']:g} "
              f"{figure['json_bytes']:10d} B")


if __name__ == "__main__":
    main()
