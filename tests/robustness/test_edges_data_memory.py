"""Issue 10, item 14: what a data file costs in memory is bounded by what it holds and what is needed.

Each test runs handprop in a fresh Python process and reads its peak resident memory with
``resource.getrusage`` before and after the call: the real limits, nothing patched.
"""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import handprop

SRC = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "src")
MiB = 1 << 20

PROBE = r"""
import json, resource, sys
import numpy as np
import handprop
from handprop.cli import main
from handprop.data import load_data

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux

before = peak()
result = {}
kind, args = sys.argv[1], sys.argv[2:]
if kind == "cli":
    result["code"] = main(args)
else:
    ds = load_data(args[0], has_target=False)
    result["type"] = type(ds.X).__name__
    result["shape"] = list(ds.X.shape)
    result["first"] = float(ds.X[:100].sum())
result["grew"] = peak() - before
print(json.dumps(result))
"""


def probe(*args):
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def npy_header(shape, dtype="<f8"):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


@pytest.fixture(scope="module")
def model2(tmp_path_factory):
    """A saved model that takes 2 features."""
    path = tmp_path_factory.mktemp("mem") / "m.npz"
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    model = handprop.mlp([2, 3, 2], "tanh", rng=0)
    model.fit(X, np.array([0, 1, 1, 0]), loss="ce", epochs=1)
    handprop.io.save(model, path, loss="ce")
    return path


@pytest.mark.slow
def test_item14_a_compressed_bomb_is_refused_from_its_header(tmp_path, model2):
    # 8M rows x 4 columns of float64 (256 MiB) compressed to a few hundred KiB: the zip entry is
    # real (its CRC and sizes agree), only its shape does not fit the model.
    rows = 8 * MiB // 1
    bomb = tmp_path / "bomb.npz"
    zeros = bytes(4 * MiB)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("X.npy", "w", force_zip64=True) as f:
            f.write(npy_header((rows, 4)))
            for _ in range(rows * 4 * 8 // len(zeros)):
                f.write(zeros)
    assert bomb.stat().st_size < 2 * MiB
    result, err = probe("cli", "predict", model2, bomb)
    assert result["code"] == 2
    assert f"bomb.npz: 'X' has shape ({rows}, 4): 4 feature columns, but 2 are expected" in err
    assert result["grew"] < 32 * MiB, result  # reading the 256 MiB would show here


@pytest.mark.slow
def test_item14_an_uncompressed_npz_entry_is_memory_mapped(tmp_path):
    rows = 4 * MiB  # 4M x 4 float64: 128 MiB on disk
    X = np.zeros((rows, 4))
    X[:100] = 1.5
    np.savez(tmp_path / "big.npz", X=X)
    del X
    result, _ = probe("load", tmp_path / "big.npz")
    assert result["type"] == "memmap" and result["shape"] == [rows, 4]
    assert result["first"] == 1.5 * 400  # the data are the file's
    assert result["grew"] < 32 * MiB, result


@pytest.mark.slow  # 0.7 s: a child process measures its memory
def test_item14_a_huge_declared_npy_header_is_refused_up_front(tmp_path, model2):
    # 10**12 x 4 float64 declared, 32 bytes held: refused as a damaged file, never a MemoryError.
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_header((10**12, 4)) + bytes(32))
    before = path.read_bytes()
    result, err = probe("cli", "predict", model2, path)
    assert result["code"] == 2 and "MemoryError" not in err
    assert "huge.npy: 'X' has shape (1000000000000, 4): 4 feature columns, but 2 are expected" in err
    path.write_bytes(npy_header((10**12, 2)) + bytes(32))
    result, err = probe("cli", "predict", model2, path)
    assert result["code"] == 2 and "MemoryError" not in err
    assert ("huge.npy: cannot read the array: its header declares shape (1000000000000, 2) "
            "(16,000,000,000,000 bytes of data) but the file holds 32") in err
    assert result["grew"] < 32 * MiB
    path.write_bytes(before)
