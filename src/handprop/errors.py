"""One family of errors, so that callers (and the CLI) can tell a user's mistake from a bug.

Every message names what is at fault (the argument, file, line, column, shape or value) and, where
one exists, the fix.
"""


class HandpropError(Exception):
    """Base class of every error handprop raises on purpose."""


class HandpropValueError(HandpropError, ValueError):
    """A value, shape or hyperparameter given by the user is not acceptable."""


class HandpropKeyError(HandpropError, KeyError):
    """A name that is not there: a history key, a column. The message lists the names there are."""

    def __str__(self):  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


class TooLargeError(HandpropValueError, MemoryError):
    """A size this machine's memory cannot hold (a layer, a batch): refused before allocating, with
    the estimate and the memory available."""


class ShapeError(HandpropValueError):
    """Arrays whose shapes do not fit together (data vs. first layer, targets vs. output)."""


class DataError(HandpropValueError):
    """Data that cannot be used as it is: NaN, empty, non-numeric cells, unknown labels..."""


class FileFormatError(HandpropValueError):
    """A file that is not what it claims to be: truncated, wrong version, pickled objects..."""


class DivergenceError(HandpropError, FloatingPointError):
    """Training produced a non-finite loss or gradient."""


class MissingFileError(HandpropError, FileNotFoundError):
    """A file the user named does not exist (or is a directory)."""


class FileWriteError(HandpropError, OSError):
    """A file cannot be written where the user asked (no such directory, a directory, no permission)."""


class HandpropWarning(UserWarning):
    """Something works but is probably not what was meant (a batch larger than the data...)."""


class HandpropTypeError(HandpropError, TypeError):
    """An argument of the wrong type (a file object where a file name is needed...)."""
