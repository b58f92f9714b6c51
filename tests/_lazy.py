"""PyTorch and matplotlib for the tests that use them, imported by the first test that does.

Importing PyTorch takes about 2 s, matplotlib's pyplot 1 s. A test module that imported them at its top
would make each pytest worker pay that while collecting, whether or not it runs such a test; through
these names, only a worker that runs one does (``conftest.py`` hands the tests marked ``torch`` or
``matplotlib`` to one worker). Where the package is not installed, a test that uses it is skipped.
"""

import pytest


class Imported:
    """The module ``name``, imported at the first attribute read (``torch.tensor``); or, when it cannot
    be imported, a skip of the test that reads it."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        if attr.startswith("_"):  # what pytest looks up on a module's names while collecting
            raise AttributeError(attr)
        return getattr(pytest.importorskip(self._name), attr)


torch = Imported("torch")
nn = Imported("torch.nn")
F = Imported("torch.nn.functional")
plt = Imported("matplotlib.pyplot")
image = Imported("matplotlib.image")
