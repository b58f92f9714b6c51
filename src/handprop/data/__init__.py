"""Data for handprop: toy sets, file readers and preprocessing, all in NumPy.

* :mod:`~handprop.data.datasets`: ``xor``, ``moons``, ``spirals``... (``make_dataset`` by name), the
  scikit-learn bundled sets (optional dependency), MNIST from IDX files.
* :mod:`~handprop.data.readers`: ``load_data`` by extension: CSV (:mod:`.csvfile`), ``.npy`` and
  ``.npz`` (:mod:`.arrays`: headers checked before any data is read, memory-mapped where stored
  uncompressed); never pickles. :mod:`.tables`: ``Dataset`` and the rules of cells (missing values,
  escaping text for a terminal or a spreadsheet).
* :mod:`~handprop.data.preprocessing`: ``StandardScaler``, ``LabelEncoder``, ``one_hot`` and
  reproducible (optionally stratified) splits.
"""

from .datasets import (
    DATASETS,
    and_,
    blobs,
    circles,
    load_sklearn,
    make_dataset,
    moons,
    or_,
    regression1d,
    spirals,
    xor,
)
from .idx import load_mnist, read_idx
from .preprocessing import (
    LabelEncoder,
    StandardScaler,
    one_hot,
    train_test_split,
    train_val_test_split,
)
from .readers import Dataset, load_array, load_data, load_xy, read_csv

__all__ = [
    # toy and bundled data sets
    "xor", "and_", "or_", "circles", "moons", "spirals", "blobs", "regression1d",
    "DATASETS", "make_dataset", "load_sklearn", "read_idx", "load_mnist",
    # files
    "Dataset", "read_csv", "load_array", "load_xy", "load_data",
    # preprocessing
    "StandardScaler", "LabelEncoder", "one_hot", "train_test_split", "train_val_test_split",
]
