"""Archives laid out as LMSs write them (and as hostile students could make them), for the tests.

The layouts follow what each LMS documents or produces:

- Canvas "Download Submissions" (canvas-lms ``ContentZipper``): one flat folder of
  ``{sortable name, lowercased, letters only}_{LATE_}{user id}_{attachment id}_{file name}``,
  a name uploaded again getting ``-N`` before its extension (``Attachment.make_unique_filename``);
- Moodle "Download all submissions": ``{Full name}_{participant id}_assignsubmission_file_{name}``
  (or a folder of that name ending in ``_``), ``..._assignsubmission_onlinetext_onlinetext.html``;
- Gradescope "Export Submissions": ``assignment_<id>_export/`` holding ``submission_metadata.yml``
  (Ruby YAML, symbol keys) and one ``submission_<id>/`` folder per submission;
- nbgrader: ``submitted/<student>/<assignment>/<notebook>.ipynb`` with nbgrader's ``timestamp.txt``.
"""

from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path

from conftest import SAMPLES

CORRECT = (SAMPLES / "perceptron" / "correct.py").read_bytes()
CORRECT_NB = (SAMPLES / "perceptron" / "correct_nb.ipynb").read_bytes()
BUGGY = (SAMPLES / "perceptron" / "bug_step_at_zero.py").read_bytes()  # scores 18 of 32
SYNTAX_ERROR = (SAMPLES / "perceptron" / "bug_syntax_error.py").read_bytes()


def make_zip(path: Path, members: dict, *, date_time=(2026, 9, 30, 12, 0, 0), specials: dict = ()) -> Path:
    """A zip of ``{name: bytes}`` (a name may be ``bytes``: stored as those raw bytes, without the
    UTF-8 flag, as a zip tool on Linux writes a name of odd bytes), and of ``specials``:
    ``{name: (mode, data)}`` members whose Unix mode makes them links, devices, ..."""
    raw_names = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(members.items()):
            if isinstance(name, bytes):
                placeholder = f"{index:06d}".ljust(len(name), "x")
                raw_names[placeholder.encode()] = name
                name = placeholder
            archive.writestr(zipfile.ZipInfo(name, date_time=date_time), data)
        for name, (mode, data) in dict(specials).items():
            archive.writestr(_special(name, mode), data)
    if raw_names:
        data = path.read_bytes()
        for placeholder, raw in raw_names.items():
            data = data.replace(placeholder, raw)
        path.write_bytes(data)
    return path


def _special(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (mode | 0o777) << 16
    return info


def add_special(path: Path, name: str, mode: int, data: bytes = b"") -> None:
    """Append a member whose Unix mode makes it a symbolic link (its data the target), a device, ...
    (an archive without names of raw bytes: appending re-encodes them)."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(_special(name, mode), data)


SYMLINK, DEVICE = stat.S_IFLNK, stat.S_IFCHR


def set_declared_size(path: Path, name: str, size: int) -> None:
    """Make the archive claim ``size`` uncompressed bytes for ``name`` (a lying header, a bomb's)."""
    data = bytearray(path.read_bytes())
    encoded = name.encode()
    start = 0
    while (found := data.find(b"PK\x01\x02", start)) >= 0:  # central directory entries
        length = struct.unpack_from("<H", data, found + 28)[0]
        if bytes(data[found + 46:found + 46 + length]) == encoded:
            struct.pack_into("<I", data, found + 24, size)
        start = found + 4
    start = 0
    while (found := data.find(b"PK\x03\x04", start)) >= 0:  # local headers
        length = struct.unpack_from("<H", data, found + 26)[0]
        if bytes(data[found + 30:found + 30 + length]) == encoded:
            struct.pack_into("<I", data, found + 22, size)
        start = found + 4
    path.write_bytes(bytes(data))


def canvas_zip(path: Path) -> Path:
    """A Canvas download of a class of five, with what real downloads hold."""
    return make_zip(path, {
        "smithjohn_12345_678901_perceptron.py": BUGGY,  # uploaded first...
        "smithjohn_12345_678950_perceptron-1.py": CORRECT,  # ...and again: the newer wins
        "lovelaceada_LATE_23456_679001_perceptron.ipynb": CORRECT_NB,  # late, as Canvas says
        "de_la_cruzmaria_34567_679100_perceptron.py": CORRECT,  # a name with underscores
        "turingalan_45678_679200_notes.txt": b"my notes\n",  # a stray file of a student
        "hopper_grace_56789_text.html": b"<p>typed in Canvas</p>",  # a text entry
        "noetheremmy_67890_679300_frank.zip": b"PK\x05\x06" + b"\0" * 18,  # an archive inside
        "noetheremmy_67890_679301_perceptron.py": SYNTAX_ERROR,
    })


def moodle_zip(path: Path) -> Path:
    return make_zip(path, {
        "Ada Lovelace_1001_assignsubmission_file_/perceptron.py": CORRECT,
        "Ada Lovelace_1001_assignsubmission_file_/scratch.py": b"x = 1\n",
        "John Smith_1002_assignsubmission_file_perceptron.ipynb": CORRECT_NB,
        "John Smith_1002_assignsubmission_onlinetext_onlinetext.html": b"<p>hi</p>",
        "Walt Whit_1003_assignsubmission_file_/a.py": CORRECT,
        "Walt Whit_1003_assignsubmission_file_/b.py": BUGGY,
    })


GRADESCOPE_METADATA = """\
submission_111:
  :submitters:
  - :name: Ada Lovelace
    :sid: '9001'
    :email: ada@example.edu
  :created_at: 2026-10-01 20:00:00.861687000 Z
  :score: 0.0
  :results:
    output: |-
      submission_999:
        :created_at: 2020-01-01 00:00:00 Z
  :history:
  - :id: 42
    :created_at: 2026-09-29 10:00:00.000000000 Z
submission_222:
  :submitters:
  - :name: Pair One
    :sid: '9002'
  - :name: Pair Two
    :sid: '9003'
  :created_at: 2026-10-02 23:30:00.000000000 -07:00
submission_333:
  :submitters: []
"""


def gradescope_zip(path: Path) -> Path:
    root = "assignment_4242_export/"
    return make_zip(path, {
        root + "submission_metadata.yml": GRADESCOPE_METADATA.encode(),
        root + "submission_111/perceptron.py": CORRECT,
        root + "submission_222/perceptron.ipynb": CORRECT_NB,
        root + "submission_333/perceptron.py": BUGGY,
        "__MACOSX/" + root + "._submission_metadata.yml": b"\0",
    })


def nbgrader_zip(path: Path) -> Path:
    return make_zip(path, {
        "course/submitted/ada/perceptron/perceptron.ipynb": CORRECT_NB,
        "course/submitted/ada/perceptron/timestamp.txt": b"2026-10-01 20:00:00.000000 UTC",
        "course/submitted/ada/ps0/ps0.ipynb": CORRECT_NB,
        "course/submitted/bob/perceptron/perceptron.ipynb": CORRECT_NB,
        "course/nbgrader_config.py": b"c = get_config()\n",
    })
