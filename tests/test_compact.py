"""handprop._compact: the attributes a class declares with a None default are set as each object is made."""

import numpy as np

from handprop import Dense, Sigmoid


def test_a_subclass_may_redefine_a_declared_attribute_as_a_property():
    class KeepsNoOutput(Sigmoid):
        @property
        def a(self):  # Sigmoid declares ``a = None``; setting it here would raise (no setter)
            return "computed"

    assert KeepsNoOutput().a == "computed"


def test_a_new_layer_reads_its_declared_attributes_as_none_and_its_own_values_after_forward():
    layer = Dense(2, 3, rng=0)
    assert layer.ws is None and layer.out_shape is None
    layer.forward(np.ones((4, 2)))
    assert layer.out_shape == (4, 3)
