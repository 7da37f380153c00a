"""A generated class of perceptron submissions for ``grader similar``.

Independent solutions are put together from variants of each function, chosen so that no two
students share more than two of the six functions (students who solve the same exercise alone
still write some of it alike). Copies are disguised the way copiers do it: variables renamed,
functions reordered, comments rewritten, blank lines and spacing changed, or pasted into a
notebook.
"""

from __future__ import annotations

import re

HEADER = "import numpy as np\n"
MAIN = '''

if __name__ == "__main__":
    X = extend(np.array([[0, 1], [1, 0], [2, 1], [1, 2]], dtype=float))
    print(train_perceptron(X, np.array([0, 0, 1, 1]), w0=np.array([1.0, 2.0, -1.0])))
'''

STEP = [
    '''def step(z):
    # strict threshold
    return np.where(np.asarray(z) > 0, 1, 0) if np.ndim(z) else int(z > 0)
''',
    '''def step(z):
    arr = np.asarray(z)
    result = (arr > 0).astype(int)
    if arr.ndim == 0:
        return int(result)
    return result
''',
    '''def _one(v):
    return 1 if v > 0 else 0


def step(z):
    if np.ndim(z) == 0:
        return _one(float(z))
    flat = [_one(v) for v in np.ravel(z)]
    return np.array(flat, dtype=int).reshape(np.shape(z))
''',
    '''def step(z):
    """Heaviside with step(0) = 0."""
    out = np.greater(z, 0).astype(np.int64)
    return out.item() if out.ndim == 0 else out
''',
    '''def step(z):
    if isinstance(z, np.ndarray):
        return (z > 0) * 1
    return 1 if z > 0 else 0
''',
    '''def step(z):
    return np.heaviside(z, 0).astype(int) if np.ndim(z) > 0 else int(np.heaviside(z, 0))
''',
]

ACTIVATION = [
    '''def activation(name, z):
    z = np.asarray(z, dtype=float)
    if name == "linear":
        return z
    elif name == "unit_step":
        out = np.full(z.shape, 0.5)
        out[z > 0] = 1.0
        out[z < 0] = 0.0
        return out
    elif name == "sign":
        return np.sign(z)
    elif name == "piecewise_linear":
        return np.minimum(1.0, np.maximum(0.0, z + 0.5))
    elif name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    elif name == "tanh":
        return np.tanh(z)
    elif name == "relu":
        return np.where(z > 0, z, 0.0)
    raise ValueError("unknown activation: " + str(name))
''',
    '''def activation(name, z):
    z = np.asarray(z, dtype=float)
    table = {
        "linear": lambda v: v.copy(),
        "unit_step": lambda v: np.heaviside(v, 0.5),
        "sign": np.sign,
        "piecewise_linear": lambda v: np.clip(v + 0.5, 0, 1),
        "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
        "tanh": np.tanh,
        "relu": lambda v: np.maximum(v, 0),
    }
    if name not in table:
        raise ValueError(f"no activation called {name}")
    return table[name](z)
''',
    '''def activation(name, z):
    values = np.array(z, dtype=float)
    if name == "linear":
        out = values
    elif name == "unit_step":
        out = np.select([values < 0, values == 0], [0.0, 0.5], default=1.0)
    elif name == "sign":
        out = np.select([values < 0, values == 0], [-1.0, 0.0], default=1.0)
    elif name == "piecewise_linear":
        out = np.where(values <= -0.5, 0.0, np.where(values >= 0.5, 1.0, values + 0.5))
    elif name == "sigmoid":
        out = np.exp(-np.logaddexp(0.0, -values))
    elif name == "tanh":
        out = np.tanh(values)
    elif name == "relu":
        out = values * (values > 0)
    else:
        raise ValueError(name)
    return out
''',
    '''def activation(name, z):
    a = np.asarray(z, dtype=np.float64)
    match name:
        case "linear":
            return a + 0.0
        case "unit_step":
            return 0.5 * (np.sign(a) + 1.0)
        case "sign":
            return np.sign(a)
        case "piecewise_linear":
            return np.clip(a, -0.5, 0.5) + 0.5
        case "sigmoid":
            return 0.5 * (1.0 + np.tanh(a / 2.0))
        case "tanh":
            return np.tanh(a)
        case "relu":
            return np.clip(a, 0.0, None)
    raise ValueError(f"unknown activation {name!r}")
''',
    '''def activation(name, z):
    x = np.asarray(z, dtype=float)

    def unit(v):
        return np.where(v > 0, 1.0, np.where(v < 0, 0.0, 0.5))

    def piece(v):
        return np.clip(v + 0.5, 0.0, 1.0)

    functions = {"linear": np.copy, "unit_step": unit, "sign": np.sign, "piecewise_linear": piece,
                 "sigmoid": lambda v: np.reciprocal(1.0 + np.exp(-v)), "tanh": np.tanh,
                 "relu": lambda v: np.fmax(v, 0.0)}
    try:
        f = functions[name]
    except KeyError:
        raise ValueError("bad activation name") from None
    return f(x)
''',
    '''def activation(name, z):
    z = np.asarray(z, dtype=float)
    names = ("linear", "unit_step", "sign", "piecewise_linear", "sigmoid", "tanh", "relu")
    if name not in names:
        raise ValueError("activation must be one of " + ", ".join(names))
    if name == "relu":
        return np.piecewise(z, [z < 0, z >= 0], [0.0, lambda t: t])
    if name == "sigmoid":
        return np.exp(z) / (np.exp(z) + 1.0)
    if name == "tanh":
        return 2.0 / (1.0 + np.exp(-2.0 * z)) - 1.0
    if name == "sign":
        return np.piecewise(z, [z < 0, z == 0, z > 0], [-1.0, 0.0, 1.0])
    if name == "unit_step":
        return np.piecewise(z, [z < 0, z == 0, z > 0], [0.0, 0.5, 1.0])
    if name == "piecewise_linear":
        return np.piecewise(z, [z <= -0.5, (z > -0.5) & (z < 0.5), z >= 0.5], [0.0, lambda t: t + 0.5, 1.0])
    return z.copy()
''',
    '''def activation(name, z):
    import math

    arr = np.asarray(z, dtype=float)

    def one(t):
        if name == "linear":
            return t
        if name == "unit_step":
            return 1.0 if t > 0 else (0.0 if t < 0 else 0.5)
        if name == "sign":
            return (t > 0) - (t < 0)
        if name == "piecewise_linear":
            return min(1.0, max(0.0, t + 0.5))
        if name == "sigmoid":
            return 1.0 / (1.0 + math.exp(-t))
        if name == "tanh":
            return math.tanh(t)
        if name == "relu":
            return max(t, 0.0)
        raise ValueError("unknown: %s" % name)

    return np.vectorize(one, otypes=[float])(arr)
''',
]

EXTEND = [
    '''def extend(X):
    X = np.asarray(X, dtype=float)
    ones = np.ones(X.shape[:-1] + (1,))
    return np.concatenate([X, ones], axis=-1)
''',
    '''def extend(X):
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        return np.append(X, 1.0)
    return np.column_stack([X, np.ones(len(X))])
''',
    '''def extend(X):
    data = np.array(X, dtype=float)
    pad = [(0, 0)] * (data.ndim - 1) + [(0, 1)]
    return np.pad(data, pad, constant_values=1.0)
''',
]

PREDICT = [
    '''def predict(w, X):
    return step(X @ w)
''',
    '''def predict(w, X):
    return step(np.dot(X, w))
''',
    '''def predict(w, X):
    scores = np.asarray(X, dtype=float) @ np.asarray(w, dtype=float)
    return step(scores)
''',
]

UPDATE = [
    '''def perceptron_update(w, x, y):
    if predict(w, x) == y:
        return w, False
    if y == 1:
        return w + x, True
    return w - x, True
''',
    '''def perceptron_update(w, x, y):
    guess = predict(w, x)
    if guess == y:
        return w, False
    direction = 1 if y == 1 else -1
    return w + direction * x, True
''',
    '''def perceptron_update(w, x, y):
    error = y - predict(w, x)
    return w + error * np.asarray(x, dtype=float), bool(error != 0)
''',
]

TRAIN = [
    '''def train_perceptron(X, y, w0=None, max_epochs=100):
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=float)
    mistakes = []
    for epoch in range(max_epochs):
        errors = 0
        for i in range(len(X)):
            w, wrong = perceptron_update(w, X[i], y[i])
            if wrong:
                errors += 1
        mistakes.append(errors)
        if errors == 0:
            break
    return w, mistakes
''',
    '''def train_perceptron(X, y, w0=None, max_epochs=100):
    X = np.asarray(X, dtype=float)
    w = np.zeros(X.shape[1]) if w0 is None else np.asarray(w0, dtype=float).copy()
    history = []
    epoch = 0
    while epoch < max_epochs:
        count = 0
        for xi, yi in zip(X, y):
            w, changed = perceptron_update(w, xi, yi)
            count += int(changed)
        history.append(count)
        epoch += 1
        if count == 0:
            break
    return w, history
''',
    '''def train_perceptron(X, y, w0=None, max_epochs=100):
    weights = np.zeros(np.shape(X)[1], dtype=float) if w0 is None else np.array(w0, dtype=float)
    per_epoch = []
    for _ in range(max_epochs):
        results = []
        for point, label in zip(X, y):
            weights, missed = perceptron_update(weights, point, label)
            results.append(missed)
        per_epoch.append(sum(results))
        if not any(results):
            return weights, per_epoch
    return weights, per_epoch
''',
    '''def train_perceptron(X, y, w0=None, max_epochs=100):
    w = np.array(w0, dtype=float) if w0 is not None else np.zeros(len(X[0]))
    counts = []
    while len(counts) < max_epochs:
        n = 0
        for k in range(X.shape[0]):
            new_w, m = perceptron_update(w, X[k], y[k])
            w = new_w
            n = n + (1 if m else 0)
        counts.append(n)
        if not n:
            break
    return w, counts
''',
    '''def _epoch(w, X, y):
    total = 0
    for x_i, y_i in zip(X, y):
        w, was_wrong = perceptron_update(w, x_i, y_i)
        total += was_wrong
    return w, total


def train_perceptron(X, y, w0=None, max_epochs=100):
    w = np.zeros(X.shape[-1]) if w0 is None else np.copy(np.asarray(w0, dtype=float))
    log = []
    for _ in range(max_epochs):
        w, total = _epoch(w, X, y)
        log.append(int(total))
        if total == 0:
            break
    return w, log
''',
    '''def train_perceptron(X, y, w0=None, max_epochs=100):
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    current = np.zeros(X.shape[1]) if w0 is None else np.asarray(w0, dtype=float) * 1.0
    mistakes_per_epoch = []
    epochs_left = max_epochs
    converged = False
    while epochs_left > 0 and not converged:
        epochs_left -= 1
        wrong_here = 0
        for index, row in enumerate(X):
            current, flag = perceptron_update(current, row, y[index])
            wrong_here += 1 if flag else 0
        mistakes_per_epoch.append(wrong_here)
        converged = wrong_here == 0
    return current, mistakes_per_epoch
''',
    '''def train_perceptron(X, y, w0=None, max_epochs=100):
    state = {"w": np.zeros(X.shape[1]) if w0 is None else np.array(w0, dtype=float), "log": []}
    for epoch in range(1, max_epochs + 1):
        mistakes_now = 0
        for j, x in enumerate(X):
            state["w"], hit = perceptron_update(state["w"], x, y[j])
            mistakes_now += int(hit)
        state["log"].append(mistakes_now)
        if mistakes_now == 0:
            break
    return state["w"], state["log"]
''',
]

#: Each independent student's choice of variant per function (step, activation, extend, predict,
#: update, train): no two write the same activation or training loop, the long functions; the
#: short ones come in fewer ways, as they do in a real class.
STYLES = {
    "ada": (0, 0, 0, 0, 0, 0), "ben": (1, 1, 1, 1, 1, 1), "cai": (2, 2, 2, 2, 2, 2), "dee": (3, 3, 0, 1, 2, 3),
    "eli": (4, 4, 1, 2, 0, 4), "fay": (5, 5, 2, 0, 1, 5), "gus": (0, 6, 0, 1, 0, 6),
}
#: The common mistake: step(0) is 1 (``>=``), made independently by four of them.
STEP_AT_ZERO = ("cai", "dee", "eli", "fay")
#: A rare mistake: the update always adds x (the sign of the correction ignored); only ben makes it.
UPDATE_SIGN = ("ben",)


def solution(student: str) -> list[str]:
    """The student's file as blocks: the import, each function, the example at the end."""
    choice = STYLES[student]
    blocks = [variants[i] for variants, i in zip((STEP, ACTIVATION, EXTEND, PREDICT, UPDATE, TRAIN), choice)]
    if student in STEP_AT_ZERO:
        blocks[0] = (blocks[0].replace("> 0", ">= 0").replace("np.greater(", "np.greater_equal(")
                     .replace("np.heaviside(z, 0)", "np.heaviside(z, 1)"))
    if student in UPDATE_SIGN:
        blocks[4] = blocks[4].replace("direction = 1 if y == 1 else -1", "direction = 1")
    return [HEADER, *blocks, MAIN]


def disguise(blocks: list[str], *, renames: dict[str, str], order: list[int], comment: str) -> str:
    """A copy as a copier makes it: names replaced (whole words), the functions in another order,
    the comments rewritten and one added per function, blank lines and spacing changed."""
    functions = [blocks[1 + i] for i in order]
    text = "\n\n\n".join([blocks[0].strip()] + [f.strip() for f in functions]) + "\n" + blocks[-1]
    for old, new in renames.items():
        text = re.sub(rf"(?<![.\w]){re.escape(old)}\b", new, text)  # not attributes: np.ones stays
    text = re.sub(r"#.*", f"# {comment}", text)
    text = text.replace("\ndef ", f"\n# {comment} (mine)\ndef ")
    return text.replace(" = ", "  =  ").replace("\n\n\n", "\n\n\n\n")


def as_notebook(source: str) -> str:
    """The code as a notebook: a markdown cell, then one code cell per top-level block."""
    import nbformat

    cells = [nbformat.v4.new_markdown_cell("# My perceptron homework")]
    cells += [nbformat.v4.new_code_cell(part.strip()) for part in re.split(r"\n(?=def |if __name__)", source)
              if part.strip()]
    return nbformat.writes(nbformat.v4.new_notebook(cells=cells))
