"""Reading submissions: .py units, notebooks of any version, IPython syntax, broken files."""

import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.course.stubs import notebook_from_percent, percent_cells
from grader.intake.notebook import neutralise_ipython
from grader.results import Where
from grader.intake.submission import load_submission

from conftest import write


def notebook_file(tmp_path, *cells, name="nb.ipynb"):
    nb = new_notebook()
    nb.cells = [new_markdown_cell(c[3:]) if c.startswith("md:") else new_code_cell(c) for c in cells]
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def test_python_file_becomes_one_unit_per_top_level_statement(tmp_path):
    path = write(tmp_path / "alice.py", "import numpy as np\n\n@staticmethod\ndef f(x):\n    return x\n\nprint(f(1))\n")
    sub = load_submission(path, "alice")
    assert sub.error is None
    assert [(u.label, u.first_line) for u in sub.units] == [("line 1", 1), ("line 3", 3), ("line 7", 7)]
    assert sub.units[1].source.startswith("@staticmethod")
    assert len(sub.content_hash) == 64


def test_python_syntax_error_names_the_line(tmp_path):
    sub = load_submission(write(tmp_path / "bob.py", "x = 1\n\ndef f(:\n    pass\n"), "bob")
    assert sub.error == "SyntaxError at line 3: invalid syntax"
    assert sub.units == []


def test_future_imports_apply_to_every_unit(tmp_path):
    sub = load_submission(write(tmp_path / "c.py", "from __future__ import annotations\ndef f(x: Undefined): pass\n"), "c")
    assert sub.compile_flags != 0


def test_notebook_code_cells_are_units_named_by_cell_number(tmp_path):
    path = notebook_file(tmp_path, "md:# Title", "x = 1", "", "def f():\n    return x")
    sub = load_submission(path, "nb")
    assert [u.label for u in sub.units] == ["cell 2", "cell 4"]
    assert sub.units[0].filename == "cell 2"


def test_magics_and_shell_lines_are_neutralised_not_run(tmp_path):
    path = notebook_file(tmp_path, "%matplotlib inline\nimport numpy as np\n!rm -rf /tmp/x\nfiles = !ls\nnp?",
                         "%%bash\necho hi", "%%time\ny = 2")
    sub = load_submission(path, "nb")
    sources = [u.source for u in sub.units]
    assert sources[0].splitlines() == ["pass", "import numpy as np", "pass", "files = []", "pass"]
    assert sources[1].strip() == "y = 2"
    assert any("cell magic %%bash (cell not run)" in note.text for note in sub.notes)
    assert any(note.text.startswith("cell 1: IPython syntax not run: %matplotlib inline") for note in sub.notes)


def test_valid_python_that_looks_like_a_magic_is_left_alone(tmp_path):
    source = 'text = """\n%not a magic\n"""\nz = 7 % 3'
    sub = load_submission(notebook_file(tmp_path, source), "nb")
    assert sub.units[0].source == source and sub.notes == []


def test_a_cell_with_a_syntax_error_is_skipped_and_reported(tmp_path):
    sub = load_submission(notebook_file(tmp_path, "a = 1", "def broken(:\n  pass", "b = 2"), "nb")
    assert [u.label for u in sub.units] == ["cell 1", "cell 3"]
    assert [note.text for note in sub.notes] == ["cell 2: SyntaxError at line 1: invalid syntax (cell skipped)"]
    assert sub.notes[0].where == Where("cell 2, line 1", cell=2, line=1, source="def broken(:")
    assert sub.error is None


def test_version_3_notebook_is_upgraded(tmp_path):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
          "worksheets": [{"cells": [
              {"cell_type": "code", "input": "def f():\n    return 3", "language": "python", "outputs": []},
              {"cell_type": "markdown", "source": "notes"}]}]}
    path = write(tmp_path / "old.ipynb", json.dumps(v3))
    sub = load_submission(path, "old")
    assert sub.error is None
    assert sub.units[0].source == "def f():\n    return 3"


def test_broken_json_is_not_a_valid_notebook(tmp_path):
    sub = load_submission(write(tmp_path / "x.ipynb", '{"cells": [ '), "x")
    assert sub.error.startswith("not a valid notebook: ")
    assert sub.units == []


def test_json_that_is_not_a_notebook(tmp_path):
    sub = load_submission(write(tmp_path / "x.ipynb", '{"hello": 1}'), "x")
    assert sub.error.startswith("not a valid notebook: ")


def test_unreadable_and_unsupported_files(tmp_path):
    assert load_submission(tmp_path / "missing.py", "m").error.startswith("cannot read missing.py")
    assert load_submission(write(tmp_path / "a.txt", "x"), "a").error == \
        "unsupported file type .txt: submit a .py file or a .ipynb notebook"
    binary = tmp_path / "b.py"
    binary.write_bytes(b"x = 1\n\xff\xfe")
    assert load_submission(binary, "b").error == "not UTF-8 text (invalid byte at position 6)"


def test_neutralise_keeps_indentation():
    source, notes = neutralise_ipython("for i in range(3):\n    %time f()\n    x = 1")
    assert source == "for i in range(3):\n    pass\n    x = 1"
    assert notes == ["%time f()"]


def test_percent_stub_becomes_a_valid_notebook():
    text = "# %% [markdown]\n# # Title\n#\n# Explain.\n\n# %%\nimport numpy as np\n\n# %%\ndef f():\n    raise NotImplementedError\n"
    assert percent_cells(text) == [("markdown", "# Title\n\nExplain."), ("code", "import numpy as np"),
                                   ("code", "def f():\n    raise NotImplementedError")]
    notebook = notebook_from_percent(text, title="T")
    nbformat.validate(notebook)
    assert [c.cell_type for c in notebook.cells] == ["markdown", "code", "code"]
    assert notebook_from_percent(text, title="T") == notebook  # deterministic
