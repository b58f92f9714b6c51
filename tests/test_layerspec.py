"""The --layers grammar: each item builds the layer it names, sizes flow from the layer before, and
every mistake names the item, its column and what would be read."""

import numpy as np
import pytest

import handprop as hp
from handprop.layerspec import LayerSpecError, parse_layers


def test_the_issues_cnn():
    layers = parse_layers("reshape:1x40,conv:25x5/2,relu,conv:25x3/2,relu,flatten,dense:10", 40, 10, rng=0)
    assert [repr(layer) for layer in layers] == [
        "Reshape((1, 40))", "Conv1D(1, 25, 5, stride=2)", "ReLU()", "Conv1D(25, 25, 3, stride=2)", "ReLU()",
        "Flatten()", "Dense(200, 10)"]  # lengths 40 -> (40-5)//2+1 = 18 -> (18-3)//2+1 = 8; 25·8 = 200
    model = hp.Sequential(layers)
    assert model.n_inputs == 40 and model.predict(np.zeros((2, 40))).shape == (2, 10)


def test_every_setting_is_read():
    layers = parse_layers(" reshape:2x10 , conv:4x3/2+1@2, batchnorm, leaky_relu:0.2, maxpool:2/1, avgpool:2,"
                          "flatten,dropout:0.25,dense:7,tanh,batchnorm,dense", 20, 3, rng=1)
    conv, bn, leaky, mx, avg, drop, bn2, out = (layers[i] for i in (1, 2, 3, 4, 5, 7, 10, 11))
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation) == \
        (2, 4, 3, 2, 1, 2)
    assert bn.n == 4 and leaky.alpha == 0.2 and (mx.kernel_size, mx.stride) == (2, 1)
    assert (avg.kernel_size, avg.stride) == (2, 2) and drop.p == 0.25 and bn2.n == 7
    assert (out.n_in, out.n_out) == (7, 3)  # "dense" alone: as many units as outputs
    hp.Sequential(layers)


def test_same_seed_same_weights():
    a, b = (hp.Sequential(parse_layers("reshape:1x8,conv:2x3,flatten,dense:2", 8, 2, rng=5)) for _ in range(2))
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


@pytest.mark.parametrize("spec,match", [
    ("dense:4,relu,sigmod,dense:2", r"item 3 'sigmod' \(column 14\): unknown layer 'sigmod'; the layers are: dense:N"),
    ("reshape:1x40,conv:25,dense:2", r"item 2 'conv:25' \(column 14\): expected conv:OxK\[/S\]\[\+P\]\[@D\]"),
    ("conv:4x3,flatten,dense:2", r"item 1 'conv:4x3' \(column 1\): conv takes samples shaped \(channels, length\).*reshape:1x40"),
    ("reshape:1x40,conv:4x3,dense:2", r"item 3 'dense:2' .*put flatten before it"),
    ("reshape:1x39,dense:2", r"item 1 'reshape:1x39' .*takes samples of 39 values, but the layer before it gives 40"),
    ("reshape:1x40,maxpool:50,flatten,dense:2", r"item 2 'maxpool:50' .*shorter than the kernel \(50\)"),
    ("dropout:1.5,dense:2", r"item 1 'dropout:1.5' .*p must be a probability in \[0, 1\], got 1.5"),
    ("dropout:half,dense:2", r"item 1 'dropout:half' .*expected dropout:P"),
    ("relu:3,dense:2", r"item 1 'relu:3' .*relu takes no settings"),
    ("dense:0", r"item 1 'dense:0' .*n_out must be a positive integer, got 0"),
    ("dense:3", r"gives 3 outputs per sample, but the data needs 2; end with dense:2"),
    ("dense:4,,dense:2", r"item 2 '' \(column 9\): unknown layer ''"),
    ("", r"expected a comma-separated list of layers"),
])
def test_mistakes_name_the_item_and_the_fix(spec, match):
    with pytest.raises(LayerSpecError, match=match):
        parse_layers(spec, 40, 2, rng=0)


def test_a_written_fix_works():
    # the message for conv on rows suggests reshape:1x40; with it, the same spec builds
    with pytest.raises(LayerSpecError, match="reshape:1x40"):
        parse_layers("conv:4x3,flatten,dense:2", 40, 2)
    hp.Sequential(parse_layers("reshape:1x40,conv:4x3,flatten,dense:2", 40, 2))
