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


def test_python_syntax_error_names_the_line_and_keeps_its_text(tmp_path):
    sub = load_submission(write(tmp_path / "bob.py", "x = 1\n\ndef f(:\n    pass\n"), "bob")
    assert sub.error == "SyntaxError at line 3: invalid syntax"
    assert sub.error_where == Where("line 3", None, 3, "def f(:")
    assert sub.units == []


def test_a_syntax_error_python_does_not_place_never_says_line_none(tmp_path):
    # Python gives a NUL byte's SyntaxError no line: the grader finds the byte's line itself.
    sub = load_submission(write(tmp_path / "nul.py", "x = 1\ny = 2\x00\n"), "nul")
    assert sub.error == "SyntaxError at line 2: source code string cannot contain null bytes"
    assert sub.error_where == Where("line 2", None, 2, "y = 2")
    assert "None" not in sub.error


def test_line_numbers_are_pythons_even_with_form_feeds_and_odd_separators(tmp_path):
    # str.splitlines() would also break at the form feed and at U+001C inside the string.
    sub = load_submission(write(tmp_path / "ff.py", 'a = 1\n\x0cb = "\x1c"\ndef f(:\n'), "ff")
    assert sub.error == "SyntaxError at line 3: invalid syntax"
    assert sub.error_where.source == "def f(:"


def test_an_empty_file_says_so_and_what_to_do(tmp_path):
    for text in ("", "  \n\n"):
        assert load_submission(write(tmp_path / "empty.py", text), "e").error == (
            "the file is empty: save your work in your editor, then submit the saved file again")
    assert load_submission(write(tmp_path / "notes.py", "# TODO\n# all of it\n"), "n").error == (
        "the file has no code, only comments: save your work in your editor, then submit the saved file again")
    assert load_submission(write(tmp_path / "empty.ipynb", ""), "e").error == (
        "the file is empty: save your notebook in Jupyter, then submit the saved file again")
    for cells in ((), ("md:# Homework",), ("md:# Homework", "", "   \n")):
        assert load_submission(notebook_file(tmp_path, *cells, name="blank.ipynb"), "b").error == (
            "the notebook has no code: save your notebook in Jupyter, then submit the saved file again")


def test_future_imports_apply_to_every_unit(tmp_path):
    sub = load_submission(write(tmp_path / "c.py", "from __future__ import annotations\ndef f(x: Undefined): pass\n"), "c")
    assert sub.compile_flags != 0


def test_notebook_code_cells_never_run_are_named_by_their_place_among_code_cells(tmp_path):
    path = notebook_file(tmp_path, "md:# Title", "x = 1", "", "def f():\n    return x")
    sub = load_submission(path, "nb")
    assert [u.label for u in sub.units] == ["code cell 1", "code cell 3"]  # the empty code cell counts
    # Tracebacks and the annotated notebook's anchors keep the cell's number among all cells.
    assert [(u.filename, u.cell) for u in sub.units] == [("cell 2", 2), ("cell 4", 4)]


def counted_notebook(tmp_path, *cells, name="run.ipynb"):
    """A notebook saved after running: each cell is (source, execution count or None)."""
    nb = new_notebook()
    nb.cells = [new_code_cell(source, execution_count=count) for source, count in cells]
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def test_notebook_cells_are_named_by_the_execution_label_jupyter_shows(tmp_path):
    in_order = counted_notebook(tmp_path, ("import numpy as np", 1), ("def f(x):\n    return x", 2))
    assert [u.label for u in load_submission(in_order, "nb").units] == ["In [1]", "In [2]"]
    # Run out of order (and the first cell again later): each cell shows its own last count.
    out_of_order = counted_notebook(tmp_path, ("a = 1", 7), ("b = 2", 3), ("c = 3", 5))
    assert [u.label for u in load_submission(out_of_order, "nb").units] == ["In [7]", "In [3]", "In [5]"]
    # Cells run before and after a kernel restart can share a count: "In [1]" would name two
    # cells, so those two are named by their place; a cell never run ("In [ ]") too.
    restarted = counted_notebook(tmp_path, ("a = 1", 1), ("b = 2", 1), ("c = 3", 2), ("d = 4", None))
    assert [u.label for u in load_submission(restarted, "nb").units] == [
        "code cell 1", "code cell 2", "In [2]", "code cell 4"]


def test_a_place_in_a_notebook_is_its_label_line_and_text(tmp_path):
    sub = load_submission(counted_notebook(tmp_path, ("a = 1", 1), ("\n# helpers\ndef f(x):\n    return 1 / x", 9)),
                          "nb")
    assert sub.where("cell 2", 4) == Where("In [9], line 4", cell=2, line=4, source="return 1 / x")
    # A whole cell: its first line that is not blank, to find it by.
    assert sub.where("cell 2", None) == Where("In [9]", cell=2, line=None, source="# helpers")
    assert sub.where("cell 2", 99) == Where("In [9]", cell=2, line=None, source="# helpers")
    assert sub.where("cell 3", 1) is None and sub.where(["cell 2"], 1) is None  # not the submission's


def test_magics_and_shell_lines_are_neutralised_not_run(tmp_path):
    path = notebook_file(tmp_path, "%matplotlib inline\nimport numpy as np\n!rm -rf /tmp/x\nfiles = !ls\nnp?",
                         "%%bash\necho hi", "%%time\ny = 2")
    sub = load_submission(path, "nb")
    sources = [u.source for u in sub.units]
    assert sources[0].splitlines() == ["pass", "import numpy as np", "pass", "files = []", "pass"]
    assert sources[1].strip() == "y = 2"
    assert "code cell 2: IPython syntax not run: cell magic %%bash (cell not run)" in [note.text for note in sub.notes]
    assert any(note.text.startswith("code cell 1: IPython syntax not run: %matplotlib inline") for note in sub.notes)


def test_valid_python_that_looks_like_a_magic_is_left_alone(tmp_path):
    source = 'text = """\n%not a magic\n"""\nz = 7 % 3'
    sub = load_submission(notebook_file(tmp_path, source), "nb")
    assert sub.units[0].source == source and sub.notes == []


def test_a_cell_with_a_syntax_error_is_skipped_and_reported(tmp_path):
    sub = load_submission(notebook_file(tmp_path, "a = 1", "def broken(:\n  pass", "b = 2"), "nb")
    assert [u.label for u in sub.units] == ["code cell 1", "code cell 3"]
    assert [note.text for note in sub.notes] == ["code cell 2: SyntaxError at line 1: invalid syntax (cell skipped)"]
    assert sub.notes[0].where == Where("code cell 2, line 1", cell=2, line=1, source="def broken(:")
    assert sub.error is None
    saved = load_submission(counted_notebook(tmp_path, ("a = 1", 1), ("def broken(:\n  pass", 4)), "nb")
    assert [note.text for note in saved.notes] == ["In [4]: SyntaxError at line 1: invalid syntax (cell skipped)"]
    assert saved.notes[0].where == Where("In [4], line 1", cell=2, line=1, source="def broken(:")


def test_a_cell_that_parses_but_does_not_compile_is_skipped_under_its_own_label(tmp_path):
    # ast.parse accepts a top-level return; compiling (which runs nothing) does not. Left to the
    # sandbox, Python's message would name the cell by its internal file name ("cell 2").
    sub = load_submission(counted_notebook(tmp_path, ("a = 1", 1), ("b = 2\nreturn b", 30)), "nb")
    assert [u.label for u in sub.units] == ["In [1]"]
    assert [note.text for note in sub.notes] == ["In [30]: SyntaxError at line 2: 'return' outside function (cell skipped)"]
    assert sub.notes[0].where == Where("In [30], line 2", cell=2, line=2, source="return b")


def test_the_names_a_file_defines_are_read_from_its_source(tmp_path):
    py = load_submission(write(tmp_path / "a.py", "import numpy as np\nimport os.path\nfrom math import pi as PI\n"
                               "if True:\n    def step(z):\n        inner = 1\n        return z\n"
                               "class Net:\n    hidden = 2\nANSWERS: dict = {}\nfor i in range(2):\n    pass\n"), "a")
    assert py.defined.names == {"np", "os", "PI", "step", "Net", "ANSWERS", "i"}
    assert py.defined.functions == {"step", "Net"}
    # A skipped cell's definitions still count, as far as its text shows (a SyntaxError inside).
    nb = load_submission(notebook_file(tmp_path, "x = 1", "def predict(w, X)\n    return X @ w", "%%bash\nls"), "nb")
    assert (nb.defined.names, nb.defined.functions) == ({"x", "predict"}, {"predict"})
    # Names bound where the source does not show them, at the top level or in a function: nobody can tell.
    for hidden in ("from helpers import *\n", "exec('def step(z): return 0')\n", "globals()['step'] = abs\n",
                   "def _load():\n    globals().update(vars(__import__('helpers')))\n_load()\n",
                   "from helpers import \\\n    *\n", "\uff45\uff58\uff45\uff43('def step(z): return 0')\n"):  # ｅｘｅｃ is exec
        assert load_submission(write(tmp_path / "h.py", hidden), "h").defined is None


def test_names_bound_by_statements_and_by_assignment_expressions(tmp_path):
    # Without ``:=`` only statements and their targets are read; with one, every expression is.
    source = ("a, (b, *c) = 1, (2, 3)\nd.e = f[0] = 4\nfor g, h in []:\n    pass\nelse:\n    i = 0\n"
              "with open('x') as (j, k), open('y'):\n    l = 1\ntry:\n    m = 1\nexcept OSError as err:\n    n = 1\n"
              "finally:\n    o = 1\nwhile False:\n    p: int = 1\nmatch 1:\n    case 1:\n        q = 1\n"
              "if __name__ == '__main__':\n    print([r for r in range(3)], lambda s: s)\n    t += 1\n    del u\n")
    expected = set("abcghijklmnopqt")  # not err: an except clause unbinds it
    assert load_submission(write(tmp_path / "a.py", source), "a").defined.names == expected
    walrus = load_submission(write(tmp_path / "b.py", source + "if (v := 1):\n    print(w := 2)\n"), "b")
    assert walrus.defined.names == expected | {"v", "w"}


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
