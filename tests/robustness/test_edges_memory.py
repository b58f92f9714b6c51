"""Issue 10, items 13 and 15: hostile model files and impossible sizes cost bounded memory.

The bombs are measured in a fresh interpreter (peak RSS from ``resource.getrusage``), with the real
limits: refusing any of them may take at most 64 MiB above an interpreter that has imported
handprop. A hypothesis property then throws damaged and bomb-carrying model files at ``load`` and
``load_checkpoint`` in this process: only ``HandpropError`` may come out, and ``tracemalloc``'s peak
(NumPy's buffers included) stays under the same 64 MiB."""

import json
import os
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import handprop as hp
from handprop import io as hio

from _hostile import config_of, deflated_zeros, members, npy, npy_header, raw_zip, saved_model, with_config

resource = pytest.importorskip("resource")

SRC = Path(__file__).resolve().parents[2] / "src"
BOUND = 64 * 1024**2

# The child imports everything a load may need, then measures the load alone. On Linux a child's
# ru_maxrss starts at its parent's peak (it survives fork and exec), which would hide any use below
# pytest's own peak; the kernel's per-process high-water mark VmHWM (the same peak RSS, reset by
# exec) is read there instead, and getrusage elsewhere.
_MEASURE = """
import json, resource, sys
import handprop, handprop.io, handprop.data, handprop.cli

def kib():
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // 1024 if sys.platform == "darwin" else peak  # bytes there, KiB elsewhere

before = kib()
try:
    if sys.argv[1] == "load":
        handprop.io.load_checkpoint(sys.argv[2]) if sys.argv[2].endswith(".ckpt.npz") else handprop.io.load(sys.argv[2])
        outcome = "loaded"
    else:
        code = handprop.cli.main(sys.argv[2:])
        outcome = f"exit {code}"
except handprop.HandpropError as exc:
    outcome = f"{type(exc).__name__}: {exc}"
print(json.dumps({"outcome": outcome, "bytes": (kib() - before) * 1024}))
"""


def _measure(*argv):
    env = dict(os.environ, PYTHONPATH=str(SRC))
    done = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, argv)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["outcome"], result["bytes"], done.stderr


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    return {"model": members(saved_model(d / "m.npz")), "ckpt": members(saved_model(d / "c.npz", checkpoint=True))}


def _dense_config(n_in, n_out):
    return {"format": "handprop.model", "format_version": 1, "handprop_version": hp.__version__,
            "dtype": "float64", "loss": None, "info": None, "checkpoint": None,
            "layers": [{"class": "Dense", "config": {"n_in": n_in, "n_out": n_out},
                        "params": {"W": "layers.0.W", "b": "layers.0.b"}}]}


def _config_member(config):
    return npy(np.frombuffer(json.dumps(config).encode(), dtype=np.uint8))


# ----------------------------------------------------------------------------------- item 13
def _unreferenced_800_mib(good):
    extra = deflated_zeros(npy_header((800 * 2**20 // 8,)), 800 * 2**20)
    return raw_zip({**good["model"], "extra.npy": extra})


def _w_of_3_by_85004561(good):
    shape = (3, 85004561)
    bomb = deflated_zeros(npy_header(shape), shape[0] * shape[1] * 8)
    return raw_zip({**good["model"], "layers.0.W.npy": bomb})


def _consistent_but_compressed(good):
    # The config itself declares 1.9 GB (a Dense(2, 80 000 000)) and the members match it: every
    # claim agrees, but 1.9 GB would come out of a 2 MB file.
    n = 80_000_000
    return raw_zip({"__config__.npy": _config_member(_dense_config(2, n)),
                    "layers.0.W.npy": deflated_zeros(npy_header((2, n)), 2 * n * 8),
                    "layers.0.b.npy": deflated_zeros(npy_header((n,)), n * 8)})


def _config_that_parses_to_gigabytes(good):
    return raw_zip({**good["model"], "__config__.npy": npy(np.frombuffer(b"[" + b"[]," * 3_000_000 + b"[]]",
                                                                          dtype=np.uint8))})


def _many_small_bombs(good):
    # 1 500 entries of 1 MiB each (small enough, one by one, to be inflated whatever their ratio),
    # all named by a callback's state in a checkpoint: 1.5 GiB from 1.6 MB.
    entries = dict(good["ckpt"])
    config = config_of(entries)
    config["checkpoint"]["callbacks"]["0:Hoard"] = {"arrays": [{"__array__": f"hoard.{i}"} for i in range(1500)]}
    member = deflated_zeros(npy_header((2**17 - 16,)), (2**17 - 16) * 8)
    entries.update({f"hoard.{i}.npy": member for i in range(1500)})
    return raw_zip(with_config(entries, config))


def _deflated_config(good):
    # Under the 10 MiB a config may have, but 9 MiB of blanks deflate to 9 KB.
    blob = npy(np.frombuffer(b" " * (9 * 2**20) + b"{}", dtype=np.uint8))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return raw_zip({**good["model"], "__config__.npy": (c.compress(blob) + c.flush(), zlib.crc32(blob), len(blob))})


def _sixty_thousand_entries(good):
    return raw_zip({f"{i}.npy": b"" for i in range(60_000)})


BOMBS = [
    ("unreferenced 800 MiB member", _unreferenced_800_mib, "unexpected array(s) 'extra'"),
    ("W declared (3, 85004561)", _w_of_3_by_85004561,
     "layers[0] (Dense): Dense(2, 3): weight has shape (3, 85004561), expected (2, 3)"),
    ("consistent config, 1.9 GB in 2 MB", _consistent_but_compressed,
     "bomb.npz: its 2 compressed entries would inflate from 1898967 to 1920000256 bytes, more than 50 times"),
    ("config whose parse takes gigabytes", _config_that_parses_to_gigabytes,
     "bytes of memory, more than the 41943040 a handprop config may take"),
    ("1 500 small bombs", _many_small_bombs, "its 1500 compressed entries would inflate from"),
    ("9 MiB config in 9 KB", _deflated_config, "bomb.npz: entry '__config__' would inflate from"),
    ("60 000 zip entries", _sixty_thousand_entries, "its zip directory lists 60000 entries"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,build,words", BOMBS, ids=[b[0] for b in BOMBS])
def test_item13_model_file_bombs_are_refused_within_64_mib(good, tmp_path, name, build, words):
    path = tmp_path / "bomb.npz"
    path.write_bytes(build(good))
    assert path.stat().st_size < 50 * 2**20
    outcome, used, _ = _measure("load", path)
    assert outcome.startswith(f"FileFormatError: {path}: ") and words in outcome, outcome
    assert outcome.count("FileFormatError") == 1  # one message, not one wrapped in another
    assert used <= BOUND, f"{name}: refusing took {used / 2**20:.1f} MiB"


@pytest.mark.slow
def test_item13_the_measure_sees_a_real_load(good, tmp_path):
    # The same measurement on a file that must be read: 40 MB of weights do show up (so a small
    # number above is not a blind spot of ru_maxrss).
    model = hp.mlp([1000, 5000, 2], "tanh", rng=0)
    hio.save(model, tmp_path / "big.npz", loss="ce")
    outcome, used, _ = _measure("load", tmp_path / "big.npz")
    assert outcome == "loaded" and used >= 40e6


@pytest.mark.slow
@pytest.mark.parametrize("argv", [
    ["train", "--dataset", "moons", "--layers", "1000000000", "--quiet"],
    ["xor", "--hidden", "100000000000"],
    ["train", "--dataset", "moons", "--n", "1000000000000", "--quiet"],
])
def test_item15_impossible_sizes_are_refused_within_64_mib(tmp_path, argv):
    outcome, used, stderr = _measure("cli", *argv, *(["--out", tmp_path / "m.npz"] if argv[0] == "train" else []))
    assert outcome == "exit 2" and "needs at least" in stderr
    assert used <= BOUND


# ----------------------------------------------------------------------------------- property
def _bomb(draw_shape, declared_bytes):
    """A deflated member whose header declares ``draw_shape`` over ``declared_bytes`` of zeros."""
    return deflated_zeros(npy_header(draw_shape), declared_bytes)


hostile_members = st.one_of(
    # a member whose header and data agree (up to 64 MB), compressed from zeros
    st.lists(st.integers(1, 200), min_size=1, max_size=3).map(lambda s: ("bomb", tuple(s))),
    # a header claiming more than the data, or far more than any machine has
    st.tuples(st.lists(st.integers(0, 2**40), max_size=3).map(tuple), st.binary(max_size=64)).map(
        lambda t: ("claim", t)),
)


def _build(entries, how, where):
    kind, arg = how
    if kind == "bomb":
        member = _bomb(arg, int(np.prod(arg)) * 8)
    else:
        shape, body = arg
        member = npy_header(shape) + body
    return raw_zip({**entries, where: member})


def _within_bound(loader, path):
    tracemalloc.start()
    try:
        loader(path)
        result = "loaded"
    except hp.HandpropError as exc:
        assert str(exc)
        result = "refused"
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak <= BOUND, f"{result} after a peak of {peak / 2**20:.1f} MiB"
    return result


@pytest.mark.slow  # 1.1 s: a fuzz run
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["model", "ckpt"]), how=hostile_members, data=st.data())
def test_item13_no_hostile_model_file_escapes_handprop_error_or_the_memory_bound(good, tmp_path, kind, how, data):
    entries = good[kind]
    where = data.draw(st.sampled_from(list(entries) + ["extra.npy"]), label="member")
    if data.draw(st.booleans(), label="config agrees with the member") and how[0] == "bomb" and where == "layers.0.W.npy":
        config = config_of(entries)
        if len(how[1]) == 2:  # the config is changed to claim what the member holds
            config["layers"][0]["config"] = {"n_in": how[1][0], "n_out": how[1][1]}
            entries = with_config(entries, config)
    path = tmp_path / "hostile.npz"
    path.write_bytes(_build(entries, how, where))
    loader = hp.load if kind == "model" else hio.load_checkpoint
    event(f"{how[0]} in {where.split('.')[0]}: {_within_bound(loader, path)}")
