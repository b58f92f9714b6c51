"""Exercise: a sigmoid's backward written as a plain function, checked by finite differences.

    python examples/exercise_sigmoid.py

No class needed: write ``forward(x)`` and ``backward(grad, x)`` (which returns ``∂L/∂x`` given
``grad = ∂L/∂σ``) and hand both to ``check_functions``. The backward below forgets part of the chain
rule on purpose; the report lists every entry that is wrong, your value next to the right one.

Blog 000: σ(x) = 1 / (1 + e^(−x)) and σ'(x) = σ(x)·(1 − σ(x)).

Layers with weights work the same way: ``forward(x, W)`` and ``backward(grad, x, W)`` returning
``(dx, {"W": dW})``, checked with ``check_functions(forward, backward, x, {"W": W})``.

The same exercise without the repository: ``handprop exercise start sigmoid`` writes sigmoid.py, and
``handprop exercise check sigmoid.py`` names the mistake (transposed, sign flipped, missing 1/n...).
"""

import numpy as np

from handprop.gradcheck import check_functions


def sigmoid_forward(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_backward(grad, x):
    a = sigmoid_forward(x)
    return grad * a  # TODO: the chain rule multiplies by dσ/dx; is σ(x) alone the derivative?


def main():
    x = np.random.default_rng(1).normal(size=(4, 3))
    report = check_functions(sigmoid_forward, sigmoid_backward, x)
    print(report)
    return 0 if report.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
