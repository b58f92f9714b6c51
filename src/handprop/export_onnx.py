"""ONNX out: ``export_onnx(model, "model.onnx")``, for ONNX Runtime and every other ONNX consumer.

The graph takes raw rows and gives what handprop's ``ModelInfo.predict`` gives::

    X (n, features), float32 or float64 as the model
      -> Sub(mean), Div(scale)                   the saved StandardScaler, if any
      -> MatMul(W), Add(b), Relu, ...            one node (two for Dense) per handprop layer
      -> output                                  the network's output, as model.predict
      -> probabilities, label                    a classifier: Softmax / Sigmoid, ArgMax, the labels
      -> value                                   a regressor: Mul(y scale), Add(y mean) if scaled

``onnx.checker`` checks the model before anything is written; a layer the exporter has no ONNX
operator for is refused by name. The ``onnx`` package is imported only when this function runs.
"""

import numpy as np

from . import __version__
from .errors import HandpropValueError
from .exporting import Postprocessing, check_suffix, layer_steps, write_all

__all__ = ["export_onnx", "OPSET"]

OPSET = 17
_IR_VERSION = 8  # the oldest IR with opset 17: readable by every runtime that knows the opset
_SIMPLE = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "identity": "Identity"}


class _Graph:
    """Nodes and constants, added in order; names made unique by a counter."""

    def __init__(self, onnx, dtype):
        self.onnx, self.helper = onnx, onnx.helper
        self.dtype = dtype
        self.nodes, self.constants = [], []

    def constant(self, name, value, dtype=None):
        arr = np.asarray(value, dtype=dtype or self.dtype)
        self.constants.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=f"{op}_{len(self.nodes)}", **attrs))
        return output


def _network(g, steps, x):
    """The layers, node by node; returns the name of the network's output."""
    for i, kind, layer in steps:
        last = i == steps[-1][0]
        out = "output" if last else f"layer{i}"
        if kind == "dense":
            z = g.node("MatMul", [x, g.constant(f"layers.{i}.W", layer.W)], f"layer{i}.xW")
            x = g.node("Add", [z, g.constant(f"layers.{i}.b", layer.b)], out)
        elif kind == "leaky_relu":
            x = _leaky_relu(g, x, float(layer.alpha), out)
        elif kind == "softmax":
            x = g.node("Softmax", [x], out, axis=-1)
        else:
            x = g.node(_SIMPLE[kind], [x], out)
    return x


def _leaky_relu(g, x, alpha, out):
    """ONNX's LeakyRelu keeps alpha as a float32 attribute: exact for a float32 model, or an alpha
    that float32 holds exactly (0.25). Otherwise max(z, alpha·z), the same number for 0 <= alpha < 1,
    with alpha a constant of the model's dtype."""
    if g.dtype == np.float32 or float(np.float32(alpha)) == alpha:
        return g.node("LeakyRelu", [x], out, alpha=alpha)
    scaled = g.node("Mul", [x, g.constant(f"{out}.alpha", alpha)], f"{out}.alpha_z")
    return g.node("Max", [x, scaled], out)


def _classes_tensor(g, classes):
    if all(isinstance(c, str) for c in classes):
        tensor = g.helper.make_tensor("classes", g.onnx.TensorProto.STRING, [len(classes)],
                                      [c.encode("utf-8") for c in classes])
        g.constants.append(tensor)
        return "classes", g.onnx.TensorProto.STRING
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return g.constant("classes", classes, np.int64), g.onnx.TensorProto.INT64
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes):
        return g.constant("classes", classes, np.float64), g.onnx.TensorProto.DOUBLE
    kinds = sorted({type(c).__name__ for c in classes})
    raise HandpropValueError(f"ONNX export: class labels of type {', '.join(kinds)} cannot be stored; "
                             "labels must be all strings or all numbers")


def _classifier(g, post, out):
    """``probabilities`` and ``label`` outputs; returns their (name, element type) pairs."""
    p = {"softmax": lambda: g.node("Softmax", [out], "p", axis=1),
         "sigmoid": lambda: g.node("Sigmoid", [out], "p"),
         "identity": lambda: out}[post.proba]()
    if post.two_columns:  # one output column is P(class 1): give P(0), P(1)
        q = g.node("Sub", [g.constant("one", 1.0), p], "q")
        g.node("Concat", [q, p], "probabilities", axis=1)
    else:
        g.node("Identity", [p], "probabilities")
    if post.threshold is None:
        idx = g.node("ArgMax", [out], "index", axis=1, keepdims=0)
    else:  # one column: logit > 0, or probability >= 0.5 (handprop.metrics.output_to_labels)
        flat = g.node("Reshape", [out, g.constant("flat_shape", [-1], np.int64)], "output_flat")
        test = "Greater" if post.threshold == 0.0 else "GreaterOrEqual"
        hit = g.node(test, [flat, g.constant("threshold", post.threshold)], "is_one")
        idx = g.node("Cast", [hit], "index", to=g.onnx.TensorProto.INT64)
    if post.classes is None:
        g.node("Identity", [idx], "label")
        return [("probabilities", None), ("label", g.onnx.TensorProto.INT64)]
    classes, elem = _classes_tensor(g, post.classes)
    g.node("Gather", [classes, idx], "label", axis=0)
    return [("probabilities", None), ("label", elem)]


def _graph(onnx, model, steps, post, elem):
    g = _Graph(onnx, model.dtype)
    x = "X"
    if post.x_mean is not None:
        x = g.node("Sub", [x, g.constant("x_mean", post.x_mean)], "X_centered")
        x = g.node("Div", [x, g.constant("x_scale", post.x_scale)], "X_scaled")
    out = _network(g, steps, x)
    extra = []
    if post.task == "classification":
        extra = _classifier(g, post, out)
    elif post.task == "regression":
        if post.y_mean is not None:
            v = g.node("Mul", [out, g.constant("y_scale", post.y_scale)], "value_scaled")
            g.node("Add", [v, g.constant("y_mean", post.y_mean)], "value")
        else:
            g.node("Identity", [out], "value")
        extra = [("value", None)]
    n_out = model.n_outputs
    outputs = [onnx.helper.make_tensor_value_info("output", elem, ["n", n_out])]
    for name, kind in extra:
        shape = ["n"] if name == "label" else ["n", 2 if post.two_columns and name == "probabilities" else n_out]
        outputs.append(onnx.helper.make_tensor_value_info(name, kind or elem, shape))
    inputs = [onnx.helper.make_tensor_value_info("X", elem, ["n", model.n_inputs])]
    return onnx.helper.make_graph(g.nodes, "handprop", inputs, outputs, initializer=g.constants,
                                  doc_string=repr(model))


def _metadata(model, post):
    info = getattr(model, "info", None)
    meta = {"handprop_version": __version__, "task": str(post.task), "loss": repr(getattr(info, "loss", None))}
    if post.classes is not None:
        meta["classes"] = ",".join(map(str, post.classes))
    if info is not None and info.feature_names:
        meta["feature_names"] = ",".join(info.feature_names)
    return meta


def build_onnx(model):
    """The ``onnx.ModelProto`` of ``model`` (checked by ``onnx.checker``), without writing it."""
    import onnx  # optional: only the exporter needs it

    steps = layer_steps(model, "ONNX")
    elem = {np.dtype(np.float32): onnx.TensorProto.FLOAT, np.dtype(np.float64): onnx.TensorProto.DOUBLE}.get(model.dtype)
    if elem is None:
        raise HandpropValueError(f"ONNX export: the model is {model.dtype}; export float32 or float64 "
                                 "(model.astype(np.float32))")
    post = Postprocessing.of(model)
    graph = _graph(onnx, model, steps, post, elem)
    proto = onnx.helper.make_model(graph, producer_name="handprop", producer_version=__version__,
                                   opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    proto.ir_version = _IR_VERSION
    onnx.helper.set_model_props(proto, _metadata(model, post))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model, path):
    """Write ``model`` with its preprocessing and labels to ``path`` (``.onnx``); returns the path.

    Inputs: ``X`` (n, features) raw rows, in the model's dtype. Outputs: ``output`` (the
    network's), plus ``probabilities`` and ``label`` for a classifier, ``value`` for a regressor.
    """
    path = check_suffix(path, ".onnx", "export_onnx: the model")
    proto = build_onnx(model)
    write_all({path: proto.SerializeToString()})
    return path
