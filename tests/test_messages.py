"""Golden messages: what a student reads for each common bug, graded on real files, asserted whole.

Each buggy file is a bundled sample, a fixture in ``tests/fixtures/`` or a correct sample with one
line changed (``variant``), graded through the real sandbox by ``Grader``. Inputs come from each
check's seeded generator, so the numbers in these messages are the same on every run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.course.assignment import get_assignment
from grader.grading.grader import Grader
from grader.results import Where

from conftest import ROOT, SAMPLES, write

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NUMPY = np.__version__


@pytest.fixture(scope="module")
def graders(forkserver):
    """One grader per assignment (all checks, as a TA grades), sharing the session's warm parent."""
    opened: dict[str, Grader] = {}

    def get(name: str) -> Grader:
        if name not in opened:
            opened[name] = Grader(get_assignment(name, ROOT), forkserver=forkserver).start()
        return opened[name]

    yield get
    for grader in opened.values():
        grader.close()


def grade(graders, assignment: str, path: Path, student: str | None = None):
    return graders(assignment).grade_file(path, student or path.stem)


def failed(result) -> dict[str, str]:
    """The message of every check that did not pass, by check name."""
    return {c.name: c.message for c in result.checks if c.status != "passed"}


def variant(tmp_path: Path, assignment: str, name: str, *edits: tuple[str, str], sample: str = "correct.py") -> Path:
    """A bundled sample with some lines changed (each edit must apply), written as ``name``."""
    text = (SAMPLES / assignment / sample).read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return write(tmp_path / name, text)


# --- perceptron_update: the call with its values, and the slip named ------------------------------

def test_update_with_a_threshold_at_zero_names_the_strict_threshold(graders):
    result = grade(graders, "perceptron", FIXTURES / "perceptron" / "update_threshold_at_zero.py")
    assert failed(result)["update_on_each_case"] == (
        "perceptron_update(w=[1, 2, -1], x=[1, 0, 1], y=0) returned ([0, 2, -2], True); expected ([1, 2, -1], "
        "False): w·x = 0, so predict(w, x) = step(0) = 0 = y: no mistake, and w comes back unchanged. Hint: the "
        "threshold is strict: step(0) = 0, so a point with w·x = 0 is predicted 0 (compare with z > 0, not z >= 0)")
    assert "step_is_strict_at_zero" not in failed(result)  # its step is right: only the update's test is not


def test_update_for_labels_minus_one_and_one_says_the_labels_are_zero_and_one(graders):
    result = grade(graders, "perceptron", FIXTURES / "perceptron" / "update_plus_minus_one.py")
    assert failed(result)["update_on_each_case"] == (
        "perceptron_update(w=[1, 2, -1], x=[1, 0, 1], y=0) returned ([1, 2, -1], True); expected ([1, 2, -1], "
        "False): w·x = 0, so predict(w, x) = step(0) = 0 = y: no mistake, and w comes back unchanged. Hint: the "
        "labels are 0 and 1 here, not -1 and +1: a mistake is predict(w, x) != y, and a missed 0 gives w - x "
        "(y * x is zero when y = 0)")


def test_update_with_swapped_signs_says_so(graders):
    result = grade(graders, "perceptron", SAMPLES / "perceptron" / "bug_update_sign.py")
    assert failed(result)["update_on_each_case"] == (
        "perceptron_update(w=[1, 2, -1], x=[1, 0, 1], y=1) returned ([0, 2, -2], True); expected ([2, 2, 0], "
        "True): w·x = 0, so predict(w, x) = step(0) = 0, but y = 1: a mistake, and new_w = w + x (a missed 1 "
        "moves w towards x). Hint: the signs are swapped: add x for a missed 1, subtract it for a missed 0")


def test_update_returning_the_wrong_shape_says_return_a_tuple(graders):
    only_w = grade(graders, "perceptron", FIXTURES / "perceptron" / "update_returns_w_only.py")
    assert failed(only_w)["update_on_each_case"] == (
        "perceptron_update(w=[1, 2, -1], x=[1, 0, 1], y=0) must return a tuple (new_w, mistake); yours returned "
        "an array of shape (3,)")
    swapped = grade(graders, "perceptron", FIXTURES / "perceptron" / "update_swapped_tuple.py")
    assert failed(swapped)["update_on_each_case"] == (
        "perceptron_update(w=[1, 2, -1], x=[1, 0, 1], y=0) returned (mistake, new_w); return them in the order "
        "(new_w, mistake)")


# --- inputs modified in place: the argument as the student's code names it ---------------------------

def test_an_input_modified_in_place_is_blamed_by_its_own_name(graders, tmp_path):
    perceptron = grade(graders, "perceptron", SAMPLES / "perceptron" / "bug_inplace_update.py")
    assert failed(perceptron)["update_on_each_case"] == (
        "perceptron_update() modified its argument w in place; leave inputs unchanged: work on a copy "
        "(e.g. w.copy()) or build a new array")
    # CS231n's classic relu_backward: dx = dout, then dx[x <= 0] = 0 changes dout, not x.
    dout = variant(tmp_path, "backprop", "relu_dout.py", ("    dx = dout.copy()\n    dx[x <= 0] = 0",
                                                          "    dx = dout\n    dx[x <= 0] = 0"))
    assert failed(grade(graders, "backprop", dout, "correct"))["relu_backward_values"] == (
        "relu_backward() modified its argument dout in place; leave inputs unchanged: work on a copy "
        "(e.g. dout.copy()) or build a new array")
    # An array inside the cache: reshaping the cached x in place changes the forward's input.
    cached = variant(tmp_path, "backprop", "affine_cache.py", ("    x, w, b = cache\n    N = x.shape[0]\n",
                                                               "    x, w, b = cache\n    N = x.shape[0]\n"
                                                               "    x.shape = (N, -1)\n"))
    assert failed(grade(graders, "backprop", cached, "correct"))["affine_gradcheck"] == (  # x is 3-D there
        "affine_backward() modified cache[0], an array inside its argument cache, in place; leave inputs "
        "unchanged: work on a copy (e.g. cache[0].copy()) or build a new array")


def test_arguments_are_named_by_the_signature_not_by_the_order_of_the_call(make_course, tmp_path, forkserver):
    """A keyword given out of the signature's order, or an array collected by *args, keeps its own name."""
    root = make_course("perceptron")
    checks = root / "assignments" / "perceptron" / "checks.py"
    checks.write_text(checks.read_text() + '''

@check(points=1, visibility="public")
def keywords_out_of_order(ctx):
    """Calls scale(x, out) as scale(out=..., x=...)."""
    ctx.student.scale(out=np.zeros(3), x=np.ones(3))


@check(points=1, visibility="public")
def star_args(ctx):
    """Calls total(*arrays) with two arrays."""
    ctx.student.total(np.ones(2), np.ones(2))
''')
    source = (SAMPLES / "perceptron" / "correct.py").read_text() + (
        "\n\ndef scale(x, out):\n    out[:] = 2 * x\n    return out\n"
        "\n\ndef total(*arrays):\n    arrays[1][0] = 5\n    return sum(a.sum() for a in arrays)\n")
    with Grader(get_assignment("perceptron", root), forkserver=forkserver) as grader:
        result = grader.grade_file(write(tmp_path / "named.py", source), "named")
    assert failed(result) == {
        "keywords_out_of_order": "scale() modified its argument out in place; leave inputs unchanged: work on a "
                                 "copy (e.g. out.copy()) or build a new array",
        "star_args": "total() modified arrays[1], an array inside its argument arrays, in place; leave inputs "
                     "unchanged: work on a copy (e.g. arrays[1].copy()) or build a new array"}


# --- conv backward with pad = 0, max-pool backward with overlapping windows ----------------------------

def test_the_pad_crop_bug_is_found_by_a_public_check_and_named(graders):
    result = grade(graders, "backprop", SAMPLES / "backprop" / "bug_conv_pad_crop.py")
    pad0 = next(c for c in result.checks if c.name == "conv_backward_pad0")
    assert (pad0.visibility, pad0.status) == ("public", "failed")
    assert pad0.message == (
        "conv_backward_naive: dx: shape (2, 2, 0, 0) (yours), expected (2, 2, 5, 5). With pad = 0, a slice like "
        "dx_pad[:, :, pad:-pad, pad:-pad] is empty (-0 is 0): slice with pad:pad + H and pad:pad + W instead.")


def test_the_pad_crop_into_a_preallocated_dx_gets_the_pad_hint_too(graders):
    result = grade(graders, "backprop", SAMPLES / "backprop" / "bug_conv_pad_crop_assign.py")
    pad0 = next(c for c in result.checks if c.name == "conv_backward_pad0")
    assert pad0.message == (
        "conv_backward_naive() raised ValueError: could not broadcast input array from shape (2,0,0) into shape "
        "(2,5,5) (bug_conv_pad_crop_assign.py, line 173). With pad = 0, a slice like "
        "dx_pad[:, :, pad:-pad, pad:-pad] is empty (-0 is 0): slice with pad:pad + H and pad:pad + W instead.")
    assert pad0.where == Where("bug_conv_pad_crop_assign.py, line 173", None, 173,
                               "dx[n] = dx_pad[n, :, pad:-pad, pad:-pad]  # BUG: with pad == 0 the slice is empty")


def test_max_pool_backward_that_assigns_is_told_to_accumulate(graders):
    result = grade(graders, "backprop", SAMPLES / "backprop" / "bug_maxpool_assign.py")
    overlapping = next(c for c in result.checks if c.name == "max_pool_backward_overlapping")
    assert (overlapping.visibility, overlapping.status) == ("public", "failed")
    assert overlapping.message == (
        "max_pool_backward_naive: dx: not close (rtol=1e-06, atol=1e-08): 29 / 100 elements (29.0%) differ; "
        "greatest relative difference 3.0e+00 at [1, 0, 0, 2]; [0, 0, 2, 1]: -1.07339 (yours), -5.01518 "
        "(expected); [1, 0, 2, 3]: -0.137014 (yours), 3.52979 (expected); [0, 0, 1, 1]: 0 (yours), -3.35278 "
        "(expected). All 29 differing elements are where pooling windows overlap (stride 1 is smaller than the "
        "2x2 pool): an element that is the maximum of several windows gets the sum of their gradients, so "
        "accumulate with dx[...] += ... instead of assigning with dx[...] = ....")
    # Without overlap (stride = pool size) assigning is harmless: the basic check passes.
    assert "max_pool_backward_basic" not in failed(result)


# --- the quiz: how to check one's own variant, said once -------------------------------------------------

def test_a_quiz_of_another_variant_says_once_how_to_check_ones_own(graders, tmp_path):
    # A stub released for one student, checked without --student: the id is the file's name.
    path = shutil.copy(SAMPLES / "backprop" / "correct.py", tmp_path / "backprop.py")
    result = grade(graders, "backprop", Path(path))
    messages = failed(result)
    assert set(messages) == {"quiz_q1", "quiz_q2", "quiz_q3", "quiz_q4"}
    assert messages["quiz_q1"] == (
        "ANSWERS['q1'] = -21 is not dL/dw3 of the two-layer linear network for the numbers of student 'backprop' "
        "(tolerance rtol=0.001, atol=1e-06). It is right for the QUIZ numbers in your file. The QUIZ in your file "
        "is not the variant of student 'backprop', which is what this run graded (without --student the id is the "
        "file's name). To check the numbers released to you, run grader check backprop FILE --student YOUR_ID.")
    assert messages["quiz_q2"] == (
        "ANSWERS['q2'] = 0.622459 is not dl/dw1 of the sigmoid neuron with binary cross-entropy for the numbers of "
        "student 'backprop' (tolerance rtol=0.001, atol=1e-06). It is right for the QUIZ numbers in your file. "
        "(Your file's QUIZ is not your variant: see quiz_q1.)")
    assert sum("--student YOUR_ID" in m for m in messages.values()) == 1
    # Graded as the student it was released for, it is right.
    assert failed(grade(graders, "backprop", Path(path), "correct")) == {}


# --- the lecture's neuron, through the student's own layers ---------------------------------------------

def test_the_lecture_neuron_names_the_step_of_the_chain_that_is_wrong(graders, tmp_path):
    forgot_dout = variant(tmp_path, "backprop", "sigmoid.py", ("    return dout * s * (1 - s)", "    return s * (1 - s)"))
    result = grade(graders, "backprop", forgot_dout, "correct")
    assert failed(result)["one_neuron_sigmoid_mse_gradient"] == (
        "sigmoid_backward(dl/dŷ, cache): dl/dz: 0.196612 (yours), expected -0.143735 (rtol=1e-06, atol=1e-08): "
        "(ŷ − y)·ŷ(1 − ŷ) = -0.143735")
    log10 = variant(tmp_path, "backprop", "log10.py", ("    log_probs = shifted - np.log(np.sum(np.exp(shifted)",
                                                       "    log_probs = shifted - np.log10(np.sum(np.exp(shifted)"))
    assert failed(grade(graders, "backprop", log10, "correct"))["softmax_loss_binary_cross_entropy"] == (
        "softmax_loss([[0, -1]], [1]): loss: 1.13605 (yours), expected 1.31326 (rtol=1e-06, atol=1e-08): "
        "the binary cross-entropy −ln σ(−1) = 1.31326 of the lecture's neuron (x = (1, -1), w = (1, 2), no bias, "
        "y = 1): with two classes and scores (0, z), the softmax gives class 1 the probability σ(z)")


# --- conv: the lectures' facts ----------------------------------------------------------------------------

def test_parameter_counts_with_one_bias_for_the_layer_are_named(graders):
    result = grade(graders, "conv", SAMPLES / "conv" / "bug_param_count_one_bias.py")
    messages = failed(result)
    assert messages["conv2d_param_count_lecture"] == (
        "conv2d_param_count(3, 2, 3): 55 (yours), expected 56 (hint: each of the 2 output channels has a bias of "
        "its own, not one for the layer)")
    assert messages["lenet_shapes_then_fully_connected"] == (
        "conv2d_param_count(16, 120, 4): 30721 (yours), expected 30840 (hint: each of the 120 output channels has a "
        "bias of its own, not one for the layer) (the lecture's LeNet continues after the flatten with fully "
        "connected layers 256 → 120 → 84 → 10: the first is a convolution whose 4x4 kernel covers the whole "
        "16 x 4 x 4 map, the others 1x1 convolutions; each has inputs · outputs weights and one bias per output)")


def test_average_pooling_through_conv2d_names_the_lecture_example(graders, tmp_path):
    no_stride = variant(tmp_path, "conv", "stride.py", ("    sh, sw = _two(stride)", "    sh, sw = 1, 1"))
    messages = failed(grade(graders, "conv", no_stride, "correct"))
    assert messages["conv2d_average_pooling"] == (
        "conv2d(the 4x4 pooling example of shape (1, 1, 4, 4), a 2x2 kernel of 0.25, stride=2): shape (1, 1, 3, 3) "
        "(yours), expected (1, 1, 2, 2)")
    assert "conv2d_lecture_x_filter" not in messages and "conv2d_lecture_sharpen" not in messages


# --- training: both regressors right, F1 of the macro averages named --------------------------------------

def test_a_regressor_without_biases_earns_full_marks(graders):
    result = grade(graders, "training", SAMPLES / "training" / "correct_no_bias.py")
    assert result.score == result.max_score, failed(result)


def test_f1_of_the_macro_averages_is_named_as_such(graders):
    result = grade(graders, "training", SAMPLES / "training" / "bug_metrics_f1_of_means.py")
    assert failed(result)["metrics_every_class_predicted"] == (
        "classification_metrics([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 1, 2, 3, 3, 0, 2], [0, 1, 2, 3, 1, 1, 2, 0, 0, 2, "
        "1, 2, 3, 1, 0, 3], 4)['f1']: 0.689577 (yours), expected 0.684524 (rtol=1e-06, atol=1e-09): yours is "
        "2PR/(P + R) of the macro averages P = 0.691667 and R = 0.6875; f1 is the mean of the per-class F1 scores "
        "(each class's 2·P_c·R_c/(P_c + R_c), averaged over the 4 classes)")


# --- the file: cells that did not run, plotting imports, NumPy 2 -----------------------------------------

def _notebook(tmp_path: Path, name: str, edit, *, counts=None) -> Path:
    """The perceptron notebook sample, edited; ``counts`` are the execution counts its code cells
    were saved with (None: never run, as the sample is)."""
    notebook = nbformat.read(SAMPLES / "perceptron" / "correct_nb.ipynb", as_version=4)
    edit(notebook.cells)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell, count in zip(code, counts or [None] * len(code)):
        cell.execution_count = count
    path = tmp_path / name
    nbformat.write(notebook, str(path))
    return path


def test_a_function_in_a_cell_with_a_syntax_error_points_at_that_cell(graders, tmp_path):
    def break_cell(cells):
        assert cells[6].source.startswith("def perceptron_update(w, x, y):")
        cells[6].source = cells[6].source.replace("def perceptron_update(w, x, y):", "def perceptron_update(w, x, y)")

    # Saved after running every cell from the top: the cells are named as Jupyter shows them.
    path = _notebook(tmp_path, "syntax.ipynb", break_cell, counts=range(1, 11))
    result = grade(graders, "perceptron", path)
    update = next(c for c in result.checks if c.name == "update_on_each_case")
    assert update.message == ("perceptron_update is not defined in your submission because the code that defines "
                              "it did not run: In [6]: SyntaxError at line 1: expected ':' (cell skipped)")
    assert update.where == Where("In [6], line 1", 7, 1, "def perceptron_update(w, x, y)")
    # Called from the student's own train_perceptron, the NameError says where the definition is too.
    assert failed(result)["lecture_worked_example"] == (
        "train_perceptron() raised NameError: name 'perceptron_update' is not defined (In [7], line 7). "
        "perceptron_update is defined in code that did not run: In [6]: SyntaxError at line 1: expected ':' "
        "(cell skipped)")


def test_a_function_in_a_cell_that_does_not_compile_points_at_that_cell(graders, tmp_path):
    def nonlocal_at_top(cells):
        assert cells[2].source.startswith("def step(z):")
        cells[2].source = "def step(z):\n    nonlocal threshold\n    return int(z > 0)"

    result = grade(graders, "perceptron", _notebook(tmp_path, "nonlocal.ipynb", nonlocal_at_top, counts=range(1, 11)))
    assert failed(result)["step_is_strict_at_zero"] == (
        "step is not defined in your submission because the code that defines it did not run: In [2]: SyntaxError at "
        "line 2: no binding for nonlocal 'threshold' found (cell skipped)")


def test_cells_run_out_of_order_after_a_restart_or_never_are_each_named_as_jupyter_shows(graders, tmp_path):
    def failing_step(cells):
        assert cells[2].source.startswith("def step(z):")
        cells[2].source = "def step(z):\n    return 1 / 0"

    # After a restart the magics cell and the plotting cell both ran as In [1]: named by their place;
    # step's cell ran last, as In [12]; the scratch cell print(w_final) never ran.
    path = _notebook(tmp_path, "restarted.ipynb", failing_step, counts=[1, 12, 3, 4, 5, 6, 7, 1, None, 9])
    result = grade(graders, "perceptron", path)
    strict = next(c for c in result.checks if c.name == "step_is_strict_at_zero")
    assert strict.message == "step() raised ZeroDivisionError: division by zero (In [12], line 2)"
    assert strict.where == Where("In [12], line 2", 3, 2, "return 1 / 0")
    assert [n.text for n in result.notes] == [
        "code cell 1: IPython syntax not run: %matplotlib inline; !pip install numpy",
        "code cell 8: ModuleNotFoundError: No module named 'seaborn' (code cell 8, line 1). Plots are not "
        "available while grading (seaborn is not installed here), so the rest of this cell did not run; the rest "
        "of your submission was graded.",
        "code cell 9: NameError: name 'w_final' is not defined (code cell 9, line 1)",
        "In [9]: IPython syntax not run: %%timeit"]
    # A note about a whole cell shows the cell's first line, to find it by.
    assert result.notes[0].where == Where("code cell 1", 2, None, "%matplotlib inline")


def test_a_function_the_harness_needs_from_a_skipped_cell_points_at_that_cell(graders, tmp_path):
    notebook = nbformat.read(SAMPLES / "training" / "correct_nb.ipynb", as_version=4)
    assert notebook.cells[4].source.startswith("def train_one_epoch(model, loader, loss_fn, optimizer):")
    notebook.cells[4].source = notebook.cells[4].source.replace("optimizer):", "optimizer)", 1)
    nbformat.write(notebook, str(tmp_path / "loops.ipynb"))
    result = grade(graders, "training", tmp_path / "loops.ipynb")
    assert failed(result)["one_epoch_parameters"] == (
        "the grader's harness one_epoch() with your code raised NameError: train_one_epoch is not defined in your "
        "submission. train_one_epoch is defined in code that did not run: code cell 4: SyntaxError at line 1: "
        "expected ':' (cell skipped)")


def test_a_failed_plotting_import_says_plots_are_not_available_and_the_rest_was_graded(graders, tmp_path):
    def plot_first(cells):
        assert cells[5].source.startswith("def predict(w, X):")
        cells[5].source = "import seaborn as sns\n" + cells[5].source
        cells.append(nbformat.v4.new_code_cell("sns.despine()"))

    result = grade(graders, "perceptron", _notebook(tmp_path, "plots.ipynb", plot_first))
    seaborn = ("code cell 5: ModuleNotFoundError: No module named 'seaborn' (code cell 5, line 1). Plots are not "
               "available while grading (seaborn is not installed here), so the rest of this cell did not run; the "
               "rest of your submission was graded.")
    notes = [n.text for n in result.notes]
    assert seaborn in notes
    assert ("code cell 11: NameError: name 'sns' is not defined (code cell 11, line 1). sns comes from the plotting "
            "import that failed (code cell 5): plots are not available while grading.") in notes
    assert failed(result)["predict_on_lecture_points"] == (
        f"predict is not defined in your submission because the code that defines it did not run: {seaborn}")


def test_a_plotting_import_in_a_py_file_skips_only_that_statement(graders, tmp_path):
    source = "import seaborn as sns\n" + (SAMPLES / "perceptron" / "correct.py").read_text()
    result = grade(graders, "perceptron", write(tmp_path / "plots.py", source))
    assert result.score == result.max_score
    assert [n.text for n in result.notes] == [
        "line 1: ModuleNotFoundError: No module named 'seaborn' (plots.py, line 1). Plots are not available "
        "while grading (seaborn is not installed here), so this statement was skipped; the rest of your "
        "submission was graded."]


def test_matplotlib_plots_run_headless_while_grading(graders, tmp_path):
    # matplotlib is installed with the grader (grader stats draws with it), so a student's plot runs
    # on the Agg backend: nothing to show, nothing lost, and the rest of the cell runs too.
    source = ("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()\n"
              + (SAMPLES / "perceptron" / "correct.py").read_text())
    result = grade(graders, "perceptron", write(tmp_path / "mpl.py", source))
    assert result.score == result.max_score and [n.text for n in result.notes] == []


def test_numpy_2_removals_say_which_numpy_runs_and_what_to_use(graders, tmp_path):
    product = variant(tmp_path, "conv", "conv.py", ("    count = in_channels * out_channels * kh * kw",
                                                    "    count = int(np.product([in_channels, out_channels, kh, kw]))"))
    messages = failed(grade(graders, "conv", product, "correct"))
    assert messages["conv2d_param_count_examples"] == (
        "conv2d_param_count(1, 6, 5) raised AttributeError: module 'numpy' has no attribute 'product' (conv.py, "
        f"line 58); expected 156. The grader runs NumPy {NUMPY}, which has no np.product (NumPy 2 removed it): use "
        "np.prod instead.")
    # At the top level, NumPy's own message already names the replacement; the version is added.
    alias = "import numpy as np\nDTYPE = np.float_\nZERO = np.zeros(3, dtype=DTYPE)\n" + (
        SAMPLES / "perceptron" / "correct.py").read_text()
    result = grade(graders, "perceptron", write(tmp_path / "alias.py", alias))
    float_ = ("line 2: AttributeError: `np.float_` was removed in the NumPy 2.0 release. Use `np.float64` instead. "
              f"(alias.py, line 2). The grader runs NumPy {NUMPY}, which has no np.float_ (NumPy 2 removed it): use "
              "np.float64 instead.")
    assert [n.text for n in result.notes] == [
        float_, f"line 3: NameError: name 'DTYPE' is not defined (alias.py, line 3). DTYPE is defined in code that "
                f"did not run: {float_}"]
    in1d = variant(tmp_path, "training", "training.py",
                   ('        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))),',
                    '        "accuracy": float(np.mean(np.in1d(np.arange(len(y_true)), np.flatnonzero(np.asarray(y_true) == np.asarray(y_pred))))),'))
    assert failed(grade(graders, "training", in1d, "correct"))["metrics_every_class_predicted"].endswith(
        f"(training.py, line 94). The grader runs NumPy {NUMPY}, which has no np.in1d (NumPy 2 removed it): use "
        "np.isin instead.")


# --- the file itself: empty, or for another assignment -------------------------------------------------

def test_a_file_for_another_bundled_assignment_says_which(graders):
    result = grade(graders, "perceptron", SAMPLES / "conv" / "correct.py")
    assert (result.status, result.fault, result.score) == ("error", "submission", 0)
    assert result.error == (
        "the file defines none of perceptron's functions (step, activation, extend, …) but it defines conv's "
        "(conv_output_size, conv2d_output_shape, pool2d_output_shape, …): is it the file for conv?")
    notebook = grade(graders, "conv", SAMPLES / "perceptron" / "correct_nb.ipynb")
    assert notebook.error == (
        "the file defines none of conv's functions (conv_output_size, conv2d_output_shape, pool2d_output_shape, …) "
        "but it defines perceptron's (step, activation, extend, …): is it the file for perceptron?")


def test_a_file_that_defines_none_of_the_functions_asks_whether_it_is_for_another_assignment(graders, tmp_path):
    demo = write(tmp_path / "scratch.py", "import numpy as np\n\n\ndef helper(x):\n    return x\n\n\nprint(helper(2))\n")
    assert grade(graders, "training", demo).error == (
        "the file defines none of training's functions (build_mlp, NeuralNetRegressor, train_one_epoch, …); "
        "is it the file for another assignment?")


def test_a_file_with_some_of_the_assignment_is_graded_not_turned_away(graders, tmp_path):
    # Only the quiz of backprop answered: ANSWERS is one of the stub's names, so it is backprop's file.
    quiz = write(tmp_path / "quiz.py", "ANSWERS = {'q1': -12.0}\n")
    result = grade(graders, "backprop", quiz)
    assert result.status == "graded" and result.error is None
    assert failed(result)["affine_forward_2d"] == "affine_forward is not defined in your submission"
    # A file of plain statements is no other assignment's: it runs, and each check says what is missing.
    script = write(tmp_path / "script.py", "import numpy as np\n\nw = np.zeros(3)\nprint(w)\n")
    result = grade(graders, "perceptron", script)
    assert result.status == "graded" and failed(result)["step_is_strict_at_zero"] == "step is not defined in your submission"
    # One function of perceptron is enough, even among conv's.
    mixed = write(tmp_path / "mixed.py", (SAMPLES / "conv" / "correct.py").read_text() + "\n\ndef step(z):\n    return 0\n")
    assert grade(graders, "perceptron", mixed).status == "graded"


def test_an_empty_file_says_the_file_is_empty(graders, tmp_path):
    empty = grade(graders, "perceptron", write(tmp_path / "perceptron.py", ""))
    assert (empty.status, empty.fault, empty.error) == (
        "error", "submission", "the file is empty: save your work in your editor, then submit the saved file again")
    blank = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Perceptron"), nbformat.v4.new_code_cell("")])
    nbformat.write(blank, str(tmp_path / "perceptron.ipynb"))
    assert grade(graders, "perceptron", tmp_path / "perceptron.ipynb").error == (
        "the notebook has no code: save your notebook in Jupyter, then submit the saved file again")
