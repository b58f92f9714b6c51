"""Specification of handprop.data.readers: CSV, .npy/.npz, dispatch by extension.

Every bad-file case checks the words of the message: the file name, the 1-based line (as an editor
numbers it) and the column by number and name.
"""

import pickle
import re
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from handprop.data import Dataset, load_array, load_data, load_xy, read_csv
from handprop.errors import DataError, FileFormatError, HandpropValueError, ShapeError


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


# --------------------------------------------------------------------------------- CSV happy paths

def test_last_column_is_the_target_by_default(tmp_path):
    ds = read_csv(write(tmp_path, "a,b,label\n1,2,0\n3.5,-4,1\n5,6e2,2\n"))
    assert isinstance(ds, Dataset)
    assert_array_equal(ds.X, [[1, 2], [3.5, -4], [5, 600]])
    assert ds.X.dtype == np.float64
    assert_array_equal(ds.y, [0, 1, 2])
    assert ds.y.dtype == np.int64
    assert ds.feature_names == ["a", "b"] and ds.target_name == "label"
    assert ds.class_names is None


def test_target_can_be_any_column_and_features_keep_file_order(tmp_path):
    ds = read_csv(write(tmp_path, "y,a,b\n1,2,3\n4,5,6\n"), target="y")
    assert ds.feature_names == ["a", "b"]
    assert_array_equal(ds.X, [[2, 3], [5, 6]])
    assert_array_equal(ds.y, [1, 4])


def test_integral_numeric_target_is_int64_any_fraction_makes_it_float64(tmp_path):
    assert read_csv(write(tmp_path, "x,y\n1,1.0\n2,2\n")).y.dtype == np.int64
    ds = read_csv(write(tmp_path, "x,y\n1,1\n2,2.5\n"))
    assert ds.y.dtype == np.float64
    assert_array_equal(ds.y, [1.0, 2.5])


def test_string_target_becomes_sorted_class_indices(tmp_path):
    ds = read_csv(write(tmp_path, "x,species\n1,virginica\n2,setosa\n3,versicolor\n4,setosa\n"))
    assert ds.class_names == ["setosa", "versicolor", "virginica"]
    assert_array_equal(ds.y, [2, 0, 1, 0])
    assert ds.y.dtype == np.int64
    assert [ds.class_names[i] for i in ds.y] == ["virginica", "setosa", "versicolor", "setosa"]


def test_whitespace_quotes_blank_lines_crlf_and_bom_are_tolerated(tmp_path):
    text = '\ufeff a , "b",t\r\n\r\n 1 , "2",x\r\n3,4 ,y\r\n\r\n'
    ds = read_csv(write(tmp_path, text))
    assert ds.feature_names == ["a", "b"]
    assert_array_equal(ds.X, [[1, 2], [3, 4]])
    assert ds.class_names == ["x", "y"]


def test_other_delimiters_and_encodings(tmp_path):
    ds = read_csv(write(tmp_path, "a;b;é\n1;2;ü\n", encoding="latin-1"), delimiter=";",
                  encoding="latin-1")
    assert ds.target_name == "é" and ds.class_names == ["ü"]
    guessed = read_csv(write(tmp_path, "a\tb\tc\n1\t2\t3\n"), delimiter=None)
    assert guessed.feature_names == ["a", "b"]


def test_digits_sized_csv_reads_fast(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 17, size=(1797, 64))
    y = rng.integers(0, 10, size=1797)
    header = ",".join([f"p{i}" for i in range(64)] + ["digit"])
    body = "\n".join(",".join(map(str, row)) for row in np.column_stack([X, y]))
    path = write(tmp_path, header + "\n" + body + "\n")
    start = time.perf_counter()
    ds = read_csv(path)
    elapsed = time.perf_counter() - start
    assert ds.X.shape == (1797, 64) and ds.y.shape == (1797,)
    assert_array_equal(ds.X, X)
    assert_array_equal(ds.y, y)
    assert elapsed < 1.0, f"read_csv took {elapsed:.2f}s for 1797 x 65"


# ----------------------------------------------------------------------------------- CSV bad cases
# Each message names the file, the 1-based line and, for a cell, the column by number and name.

BAD_CSV = [
    ("non-numeric cell",
     "a,b,t\n1,2,0\n3,abc,1\n", {}, r"data\.csv:3:2 \(column 2 'b'\): cannot read 'abc' as a number"),
    ("empty cell",
     "a,b,t\n1,2,0\n3,4,1\n,5,1\n", {}, r"data\.csv:4:1 \(column 1 'a'\): empty cell"),
    ("ragged row, too few",
     "a,b,t\n1,2,0\n3,4\n", {}, r"data\.csv:3: expected 3 fields \(as in the header on line 1\), got 2"),
    ("ragged row, too many",
     "a,b,t\n1,2,0,9\n", {}, r"data\.csv:2: expected 3 fields .* got 4"),
    ("nan",
     "a,b,t\n1,2,0\n3,nan,1\n4,5,1\ninf,-inf,0\n", {},
     r"data\.csv:3:2 \(column 2 'b'\): NaN or infinite value; 2 row\(s\) hold NaN/inf: "
     r"line 3 \(column 2 'b'\); line 5 \(column 1 'a', 2 'b'\)"),
    ("nan target",
     "a,t\n1,0.5\n2,nan\n", {}, r"data\.csv:3:2 \(column 2 't'\): NaN or infinite target at line\(s\) 3"),
    ("empty target",
     "a,t\n1,x\n2,\n", {}, r"data\.csv:3:2 \(column 2 't'\): empty target cell"),
    ("empty file", "", {}, r"data\.csv: the file is empty; a header row .* is expected"),
    ("blank lines only", "\n\n  \n", {}, r"data\.csv: the file is empty"),
    ("header only", "a,b,t\n", {}, r"data\.csv: only a header \(line 1\), no data rows"),
    ("missing target",
     "a,b,t\n1,2,3\n", {"target": "label"},
     r"data\.csv: no target column 'label'; the columns are: a, b, t"),
    ("duplicate column",
     "a,b,a,t\n1,2,3,4\n", {}, r"data\.csv:1:3: duplicate column name 'a' \(columns 1 and 3\)"),
    ("unnamed column", "a,,t\n1,2,3\n", {}, r"data\.csv:1:2: column 2 has no name"),
    ("target only", "t\n1\n", {}, r"data\.csv: only one column \('t'\), the target"),
    ("bad quoting", 'a,t\n1,"x"y\n', {}, r"data\.csv:2: malformed CSV"),
]


@pytest.mark.parametrize("text, kwargs, match", [c[1:] for c in BAD_CSV], ids=[c[0] for c in BAD_CSV])
def test_bad_csv_is_refused_with_file_line_and_column(tmp_path, text, kwargs, match):
    with pytest.raises(DataError, match=match):
        read_csv(write(tmp_path, text), **kwargs)


def test_line_numbers_count_blank_lines_like_an_editor(tmp_path):
    with pytest.raises(DataError, match=r"data\.csv:5:1 \(column 1 'a'\)"):
        read_csv(write(tmp_path, "a,t\n\n1,0\n\nx,1\n"))


def test_undecodable_bytes_name_the_encoding_offset_and_line(tmp_path):
    path = write(tmp_path, b"a,t\n1,0\n2,caf\xe9\n")
    with pytest.raises(DataError, match=r"data\.csv:3: cannot decode byte 0xe9 at byte offset 13 "
                                        r"\(line 3\) as utf-8; .*encoding='latin-1'"):
        read_csv(path)
    assert read_csv(path, encoding="latin-1").class_names == ["0", "café"]


@pytest.mark.parametrize("kwargs, match", [
    ({"target": 2}, r"target must be a column name \(str\) or None, got 2"),
    ({"delimiter": ",;"}, r"delimiter must be a single character, got ',;'"),
    ({"encoding": "no-such-codec"}, r"unknown encoding 'no-such-codec'"),
])
def test_bad_read_csv_arguments(tmp_path, kwargs, match):
    with pytest.raises(HandpropValueError, match=match):
        read_csv(write(tmp_path, "a,t\n1,2\n"), **kwargs)


def test_many_bad_rows_are_summarised(tmp_path):
    body = "".join(f"{i},nan,0\n" for i in range(30))
    with pytest.raises(DataError, match=r"30 row\(s\) hold NaN/inf: .* and 20 more rows"):
        read_csv(write(tmp_path, "a,b,t\n" + body))


# ----------------------------------------------------------------------------------- .npy / .npz

def test_npy_is_memory_mapped_read_only(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    np.save(tmp_path / "X.npy", X)
    got = load_array(tmp_path / "X.npy")
    assert isinstance(got, np.memmap) and not got.flags.writeable
    assert_array_equal(got, X)
    in_memory = load_array(tmp_path / "X.npy", mmap=False)
    assert not isinstance(in_memory, np.memmap)
    assert_array_equal(in_memory, X)


def test_npz_key_selection(tmp_path):
    np.savez(tmp_path / "one.npz", weights=np.ones(3))
    assert_array_equal(load_array(tmp_path / "one.npz"), np.ones(3))  # the only array
    np.savez(tmp_path / "xy.npz", X=np.zeros((2, 2)), y=np.array([0, 1]))
    assert_array_equal(load_array(tmp_path / "xy.npz"), np.zeros((2, 2)))  # "X" by convention
    assert_array_equal(load_array(tmp_path / "xy.npz", key="y"), [0, 1])
    with pytest.raises(DataError, match=r"xy\.npz: no array 'w' in the archive; it holds: X, y"):
        load_array(tmp_path / "xy.npz", key="w")


def test_load_xy(tmp_path):
    X, y = np.random.default_rng(0).standard_normal((5, 2)), np.arange(5)
    np.savez_compressed(tmp_path / "d.npz", X=X, y=y)
    gotX, goty = load_xy(tmp_path / "d.npz")
    assert_array_equal(gotX, X)
    assert_array_equal(goty, y)


def test_load_xy_mismatched_rows_and_missing_arrays(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(ShapeError, match=r"d\.npz: 'X' has shape \(5, 2\) but 'y' has shape \(4,\)"):
        load_xy(tmp_path / "d.npz")
    np.savez(tmp_path / "e.npz", features=np.zeros((5, 2)))
    with pytest.raises(DataError, match=r"e\.npz: no array 'X'.*it holds: features"):
        load_xy(tmp_path / "e.npz")


def test_object_arrays_are_refused_in_npy_and_npz(tmp_path):
    objects = np.array([{"a": 1}, None], dtype=object)
    np.save(tmp_path / "o.npy", objects, allow_pickle=True)
    np.savez(tmp_path / "o.npz", X=objects)
    for name in ["o.npy", "o.npz"]:
        for mmap in (True, False):
            with pytest.raises(FileFormatError, match=re.escape(name) + r".*pickled Python objects"):
                load_array(tmp_path / name, mmap=mmap)


def test_a_pickle_named_npy_is_refused_not_loaded(tmp_path):
    (tmp_path / "evil.npy").write_bytes(pickle.dumps({"X": [1, 2]}))
    with pytest.raises(FileFormatError, match=r"evil\.npy: holds pickled Python objects.*never "
                                              r"unpickles"):
        load_array(tmp_path / "evil.npy")


@pytest.mark.parametrize("name, content, match", [
    ("t.npy", b"a,b\n1,2\n", r"t\.npy: not a \.npy file"),
    ("t.npz", b"\x93NUMPY", r"t\.npz: not a \.npz \(zip\) archive"),
    ("cut.npz", b"PK\x03\x04 and then nothing", r"cut\.npz: cannot read the array"),
])
def test_files_that_are_not_what_their_extension_says(tmp_path, name, content, match):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(FileFormatError, match=match):
        load_array(tmp_path / name)


def test_truncated_npy_is_refused(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros((100, 10)))
    data = (tmp_path / "X.npy").read_bytes()
    (tmp_path / "X.npy").write_bytes(data[:-80])
    for mmap in (True, False):
        with pytest.raises(FileFormatError, match=r"X\.npy: cannot read the array"):
            load_array(tmp_path / "X.npy", mmap=mmap)


def test_load_array_argument_errors(tmp_path):
    np.save(tmp_path / "X.npy", np.zeros(2))
    with pytest.raises(HandpropValueError, match=r"key='X' applies to \.npz archives only"):
        load_array(tmp_path / "X.npy", key="X")
    with pytest.raises(HandpropValueError, match=r"reads \.npy or \.npz files, not '\.csv'"):
        load_array(tmp_path / "X.csv")


# ------------------------------------------------------------------------------------- load_data

def test_load_data_dispatches_on_extension(tmp_path):
    write(tmp_path, "a,b,t\n1,2,x\n", name="d.csv")
    write(tmp_path, "a\tb\tt\n1\t2\tx\n", name="d.tsv")
    write(tmp_path, "a;b;t\n1;2;x\n", name="d.txt")
    for name in ["d.csv", "d.tsv", "d.txt"]:
        ds = load_data(tmp_path / name)
        assert ds.feature_names == ["a", "b"] and ds.class_names == ["x"], name
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2)), y=np.arange(3), z=np.ones(3))
    ds = load_data(tmp_path / "d.npz")
    assert ds.X.shape == (3, 2) and ds.feature_names == ["x0", "x1"] and ds.target_name == "y"
    assert_array_equal(load_data(tmp_path / "d.npz", target="z").y, np.ones(3))
    np.save(tmp_path / "f.npy", np.zeros((4, 3)))
    ds = load_data(tmp_path / "F.NPY".lower())
    assert ds.y is None and ds.X.shape == (4, 3)


def test_load_data_refuses_unknown_extensions_and_target_for_npy(tmp_path):
    with pytest.raises(HandpropValueError, match=r"unknown file extension '\.xlsx'; known: "
                                                 r"\.csv, \.tsv, \.txt, \.npz, \.npy"):
        load_data(tmp_path / "d.xlsx")
    np.save(tmp_path / "f.npy", np.zeros((4, 3)))
    with pytest.raises(HandpropValueError, match=r"a \.npy file holds features only"):
        load_data(tmp_path / "f.npy", target="y")
