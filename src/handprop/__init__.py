"""handprop: backpropagation written by hand in NumPy."""

__version__ = "0.1.0"
