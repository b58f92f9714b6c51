"""Hostile and broken model files: each is refused with a FileFormatError (or MissingFileError)
that says what is wrong; none is executed, none crashes, none hangs or takes the memory it claims.

A table of hand-made cases first, then hypothesis: random damage to real files (byte flips,
truncations, insertions) and structural changes (members replaced, removed, added; the JSON config
rewritten at random places). Every one ends in a HandpropError or a correct load."""

import json
import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import handprop as hp
from handprop import _npzread
from handprop import io as hio

from _hostile import config_of, members, npy, npy_header, rezip, saved_model, with_config


class Pwn:
    """Unpickling this would create a file: proof that a file was executed."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    return {"model": saved_model(d / "m.npz"), "ckpt": saved_model(d / "c.npz", checkpoint=True)}


def _alter_config(change):
    def build(e):
        c = config_of(e)
        change(c)
        return rezip(with_config(e, c))
    return build


def _set(path, value):
    def change(c):
        node = c
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return change


def _replace(name, blob):
    return lambda e: rezip({**e, name: blob})


def _pwn_pickle(tmp):
    return lambda e: rezip({**e, "layers.0.W.npy": npy(np.array([Pwn(str(tmp / "PWNED"))], dtype=object), True)})


CASES = [
    ("newer format version", _alter_config(_set(["format_version"], 99)), "format version 99; this handprop"),
    ("version as text", _alter_config(_set(["format_version"], "1")), "bad format_version '1'"),
    ("another format", _alter_config(_set(["format"], "keras")), "not a handprop model file (format 'keras')"),
    ("no config", lambda e: rezip({k: v for k, v in e.items() if k != "__config__.npy"}), "no __config__ entry"),
    ("missing array", lambda e: rezip({k: v for k, v in e.items() if k != "layers.0.b.npy"}),
     "array 'layers.0.b' is missing"),
    ("extra array", lambda e: rezip({**e, "extra.npy": npy(np.ones(3))}), "unexpected array(s) 'extra'"),
    ("wrong shape", _replace("layers.0.W.npy", npy(np.ones((3, 3)))), r"weight has shape (3, 3), expected (2, 3)"),
    ("integer weights", _replace("layers.0.W.npy", npy(np.ones((2, 3), dtype=np.int32))), "has dtype int32, not float"),
    ("string array", _replace("layers.0.W.npy", npy(np.array([["a"] * 3] * 2))), "has dtype <U1, not plain numbers"),
    ("complex array", _replace("layers.0.W.npy", npy(np.ones((2, 3), complex))), "not plain numbers"),
    ("structured array", _replace("layers.0.W.npy", npy(np.zeros(2, dtype=[("a", "f8")]))), "not plain numbers"),
    ("NaN weights", _replace("layers.0.W.npy", npy(np.full((2, 3), np.nan))), "holds NaN or infinite values"),
    ("10^12 elements declared", _replace("layers.0.W.npy", npy_header((10**6, 10**6)) + b"\0" * 48),
     "declares shape (1000000, 1000000) (8000000000000 bytes of data) but holds 48"),
    ("10^30 elements declared", _replace("layers.0.W.npy", npy_header((10**15, 10**15), version=(2, 0))),
     "declares shape (1000000000000000, 1000000000000000)"),
    ("npy format 3.0", _replace("layers.0.W.npy", b"\x93NUMPY\x03\x00" + b"\0" * 60), "not 1.0 or 2.0"),
    ("huge npy header", _replace("layers.0.W.npy", b"\x93NUMPY\x02\x00" + (10**6).to_bytes(4, "little") + b" " * 100),
     "not a readable .npz file"),
    ("not a .npy member", lambda e: rezip({**e, "run.py": b"import os"}), "unexpected entry 'run.py'"),
    ("config not JSON", lambda e: rezip(with_config(e, b"{'format': ")), "not UTF-8 JSON"),
    ("config not UTF-8", lambda e: rezip(with_config(e, b"\xff\xfe{}")), "not UTF-8 JSON"),
    ("config of floats", _replace("__config__.npy", npy(np.ones(4))), "not UTF-8 JSON (dtype float64"),
    ("deeply nested config", lambda e: rezip(with_config(e, b"[" * 100_000 + b"]" * 100_000)), "not UTF-8 JSON"),
    ("unknown layer class", _alter_config(lambda c: c["layers"][1].update({"class": "os.system"})),
     "unknown layer class 'os.system'"),
    ("code in a layer setting", _alter_config(lambda c: c["layers"][0]["config"].update({"init": "__import__('os')"})),
     "unknown Dense settings ['init']"),
    ("layer size as text", _alter_config(lambda c: c["layers"][0]["config"].update({"n_in": "2"})),
     "layers[0] (Dense)"),
    ("layers not a list", _alter_config(_set(["layers"], {"a": 1})), "layers must be a non-empty list"),
    ("dtype object", _alter_config(_set(["dtype"], "object")), "dtype 'object' is not a float type"),
    ("unknown loss", _alter_config(_set(["loss"], {"class": "subprocess.call"})), "loss must name one of"),
    ("scaler of wrong length", _alter_config(lambda c: c["info"].update(
        {"preprocessing": {"x": {"class": "StandardScaler", "mean": [1, 2, 3], "scale": [1]}}})), "preprocessing"),
    ("flipped data byte", lambda e: _flip(rezip(e), -200), "not a readable .npz file"),
    ("truncated", lambda e: rezip(e)[:300], "not a readable .npz file"),
    ("empty file", lambda e: b"", "not a readable .npz file"),
    ("random bytes", lambda e: np.random.default_rng(1).bytes(1000), "not a zip archive"),
    ("a pickle", lambda e: pickle.dumps({"W": [1.0]}), "this is a pickled Python object"),
    ("a single .npy", lambda e: npy(np.ones(3)), "a single .npy array, not a handprop model"),
]


def _flip(blob, i):
    b = bytearray(blob)
    b[i] ^= 0xFF
    return bytes(b)


@pytest.mark.parametrize("name,build,words", CASES, ids=[c[0] for c in CASES])
def test_broken_model_file_is_refused_clearly(good, tmp_path, name, build, words):
    path = tmp_path / "bad.npz"
    path.write_bytes(build(members(good["model"])))
    with pytest.raises(hp.FileFormatError) as info:
        hp.load(path)
    assert words in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("loader", [hp.load, hio.load_checkpoint])
def test_a_pickle_inside_is_never_executed(good, tmp_path, loader):
    for i, build in enumerate([_pwn_pickle(tmp_path), lambda e: pickle.dumps(Pwn(str(tmp_path / "PWNED")))]):
        path = tmp_path / f"evil{i}.npz"
        path.write_bytes(build(members(good["ckpt"])))
        with pytest.raises(hp.FileFormatError, match="pickle"):
            loader(path)
    assert not (tmp_path / "PWNED").exists()


def test_a_zip_bomb_is_refused_before_inflating(good, tmp_path, monkeypatch):
    monkeypatch.setattr(_npzread, "MAX_TOTAL_BYTES", 10**6)  # a real bomb would need gigabytes here
    bomb = npy(np.zeros(2 * 10**6 // 8))
    path = tmp_path / "bomb.npz"
    path.write_bytes(rezip({**members(good["model"]), "layers.0.W.npy": bomb}, compress=True))
    assert path.stat().st_size < 20_000
    with pytest.raises(hp.FileFormatError, match="more than the 1000000 bytes a handprop file may hold"):
        hp.load(path)


def test_a_huge_config_is_refused(good, tmp_path, monkeypatch):
    monkeypatch.setattr(hio, "MAX_CONFIG_BYTES", 1000)
    path = tmp_path / "big.npz"
    path.write_bytes(rezip(with_config(members(good["model"]), b" " * 2000 + b"{}")))
    with pytest.raises(hp.FileFormatError, match="2002 bytes, more than the 1000"):
        hp.load(path)


CHECKPOINT_CASES = [
    ("bad rng state", lambda c: c["checkpoint"].update({"rng_state": {"bit_generator": "os"}}), "rng_state"),
    ("unknown optimizer", lambda c: c["checkpoint"]["optimizer"].update({"class": "Evil"}), "unknown class 'Evil'"),
    ("negative epochs", lambda c: c["checkpoint"].update({"epochs_done": -1}), "epochs_done: bad value -1"),
    ("history not numbers", lambda c: c["checkpoint"].update({"history": {"loss": ["x"]}}), "malformed checkpoint"),
    ("dangling array", lambda c: c["checkpoint"].update({"history": {"__array__": "nope"}}),
     "array 'nope' is referenced but missing"),
]


@pytest.mark.parametrize("name,change,words", CHECKPOINT_CASES, ids=[c[0] for c in CHECKPOINT_CASES])
def test_broken_checkpoint_is_refused_clearly(good, tmp_path, name, change, words):
    path = tmp_path / "bad.npz"
    path.write_bytes(_alter_config(change)(members(good["ckpt"])))
    with pytest.raises(hp.FileFormatError, match=None) as info:
        hio.load_checkpoint(path)
    assert words in str(info.value)


# ----------------------------------------------------------------------------------- hypothesis
def _weights(model):
    return [p.value for p in model.parameters()]


def _loads_correctly_or_fails_cleanly(path, blob, original, loader):
    path.write_bytes(blob)
    tracemalloc.start()  # and within the memory bound of docs/limits.md (test_edges_memory.py)
    try:
        got = loader(path)
    except hp.HandpropError as exc:
        assert str(exc)
        return "refused"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= 64 * 2**20, f"a load took {peak / 2**20:.1f} MiB"
    model = got if isinstance(got, hp.Sequential) else got.model
    # A load that succeeds is a correct one: the very weights that were saved.
    for a, b in zip(_weights(model), _weights(original)):
        np.testing.assert_array_equal(a, b)
    return "loaded"


byte_damage = st.one_of(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4).map(
        lambda flips: ("flip", flips)),
    st.integers(0, 10**6).map(lambda n: ("truncate", n)),
    st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=16)).map(lambda t: ("insert", t)),
    st.tuples(st.integers(0, 10**6), st.integers(1, 64)).map(lambda t: ("delete", t)),
)


def _damage(blob, how):
    kind, arg = how
    b = bytearray(blob)
    if kind == "flip":
        for i, x in arg:
            b[i % len(b)] ^= x
    elif kind == "truncate":
        b = b[: arg % len(b)]
    elif kind == "insert":
        i, extra = arg
        b[i % (len(b) + 1): i % (len(b) + 1)] = extra
    else:
        i, n = arg
        del b[i % len(b): i % len(b) + n]
    return bytes(b)


FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.slow  # 1.4 s: a fuzz run
@FUZZ
@given(how=byte_damage, kind=st.sampled_from(["model", "ckpt"]))
def test_random_byte_damage_is_refused_or_harmless(good, tmp_path, how, kind):
    ref = tmp_path / "ref.npz"
    ref.write_bytes(good[kind])
    original = hp.load(ref)
    loader = hp.load if kind == "model" else hio.load_checkpoint
    event(_loads_correctly_or_fails_cleanly(tmp_path / "bad.npz", _damage(good[kind], how), original, loader))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10)

dtypes = st.sampled_from(["<f8", "<f4", ">f8", "<i4", "|u1", "|b1", "<c16", "<U3", "|S2", "|V8", "|O", "<M8[s]"])
headers = st.tuples(st.lists(st.integers(0, 2**40), max_size=3).map(tuple), dtypes, st.booleans(),
                    st.sampled_from([(1, 0), (2, 0)]), st.binary(max_size=64))


def _paths(tree, prefix=()):
    """Every place in a JSON tree, as key paths."""
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _paths(v, prefix + (i,))


@pytest.mark.slow  # 1.8 s: a fuzz run
@FUZZ
@given(kind=st.sampled_from(["model", "ckpt"]), data=st.data())
def test_structural_damage_is_refused_or_harmless(good, tmp_path, kind, data):
    entries = members(good[kind])
    ref = tmp_path / "ref.npz"
    ref.write_bytes(good[kind])
    original = hp.load(ref)
    change = data.draw(st.sampled_from(["config", "config", "replace", "drop", "add"]))
    names = list(entries)
    if change == "config":
        c = config_of(entries)
        places = [p for p in _paths(c) if p]
        for _ in range(data.draw(st.integers(1, 3))):
            place = data.draw(st.sampled_from(places))
            node = c
            try:
                for k in place[:-1]:
                    node = node[k]
                node[place[-1]] = data.draw(json_values)
            except (KeyError, IndexError, TypeError):  # an earlier change moved this place
                pass
        entries = with_config(entries, json.dumps(c).encode())
    elif change == "replace":
        name = data.draw(st.sampled_from(names))
        shape, descr, fortran, version, body = data.draw(headers)
        entries = dict(entries, **{name: npy_header(shape, descr, version, fortran) + body})
    elif change == "drop":
        name = data.draw(st.sampled_from(names))
        entries = {k: v for k, v in entries.items() if k != name}
    else:
        # zipfile cuts a member name at its first NUL, so names are drawn without one
        name = data.draw(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                                 min_size=1, max_size=12))
        entries = dict(entries, **{name + ".npy": npy(np.ones(2))})
    loader = hp.load if kind == "model" else hio.load_checkpoint
    result = _loads_correctly_or_fails_cleanly(tmp_path / "bad.npz", rezip(entries), original, loader)
    event(f"{change}: {result}")
    if change in ("drop", "add"):
        assert result == "refused"  # every member of a handprop file is needed, and nothing else
