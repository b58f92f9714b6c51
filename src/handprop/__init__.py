"""handprop: backpropagation written by hand in NumPy.

Every layer has an explicit ``forward`` and ``backward``; the math reads like the blogs::

    import numpy as np
    from handprop import Sequential, Dense, Sigmoid, MSE, SGD

    model = Sequential([Dense(2, 2, init="normal", rng=rng), Sigmoid(),
                        Dense(2, 1, init="normal", rng=rng), Sigmoid()])
    history = model.fit(X, y, loss=MSE(), optimizer=SGD(lr=0.1), epochs=10000)
"""

__version__ = "0.1.0"

from . import callbacks, data, initializers, metrics
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .errors import (DataError, DivergenceError, FileFormatError, HandpropError, HandpropValueError,
                     HandpropWarning, MissingFileError, ShapeError)
from .layers import Dense, Layer, Parameter
from .clipping import clip_norm, clip_value
from .conv import AvgPool1D, Conv1D, MaxPool1D
from .dropout import Dropout
from .norm import BatchNorm1d
from .shape import Flatten, Reshape
from .losses import BCE, MSE, CrossEntropy, HalfSSE, Loss
from .model import Sequential, mlp
from .optimizers import SGD, Adam, Optimizer
from .training import History, evaluate, fit
from .many import train_many
from . import io  # after training: files build on the model and the training loop
from .io import load
from . import gradcheck as _gradcheck_module
from .doctor import diagnose
from .explain import explain
from .export_torch import export_torch  # writing needs no PyTorch; from_torch imports it when called
from .from_torch import from_torch
from .export_onnx import export_onnx  # imports the onnx package only when called

# ``handprop.gradcheck`` is the function; its module's helpers stay reachable from it, so that both
# ``from handprop.gradcheck import numerical_gradient`` and ``handprop.gradcheck.numerical_gradient`` work.
gradcheck = _gradcheck_module.gradcheck
for _name in ("numerical_gradient", "relative_error", "check_layer", "check_functions", "GradcheckReport"):
    setattr(gradcheck, _name, getattr(_gradcheck_module, _name))
del _name

__all__ = [
    "__version__", "initializers",
    "Layer", "Parameter", "Dense",
    "Conv1D", "MaxPool1D", "AvgPool1D", "Flatten", "Reshape", "Dropout", "BatchNorm1d",
    "clip_norm", "clip_value",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softmax", "Identity",
    "Loss", "MSE", "HalfSSE", "BCE", "CrossEntropy",
    "Optimizer", "SGD", "Adam",
    "Sequential", "mlp", "fit", "train_many", "History", "evaluate", "load", "io", "metrics", "callbacks", "data",
    "explain", "gradcheck", "diagnose", "export_torch", "from_torch", "export_onnx",
    "HandpropError", "HandpropValueError", "ShapeError", "DataError", "FileFormatError", "DivergenceError",
    "MissingFileError", "HandpropWarning",
]
