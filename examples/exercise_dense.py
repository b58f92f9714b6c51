"""Exercise: write a Dense layer's backward yourself; gradcheck says which entries are wrong.

    python examples/exercise_dense.py

The layer computes ``z = x·W + b`` (x: batch × n_in, W: n_in × n_out, b: n_out). Its ``backward``
receives ``delta = ∂L/∂z`` and must

* set ``self.dW = ∂L/∂W``  (each weight's share of the error, summed over the batch),
* set ``self.db = ∂L/∂b``  (the bias sees every sample),
* return ``∂L/∂x``         (the error handed to the previous layer).

The version below is deliberately incomplete: three lines are wrong. Run this file: the check
perturbs every entry of x, W and b, compares with your backward, and lists the entries that disagree,
with your value next to the right one. Fix a line, run again, until it prints PASSED.

Hints (blog 001): write out z for one sample and one output, ``z_j = Σ_i x_i W_ij + b_j``, and
differentiate by hand. The layer is square (3 × 3) on purpose, so a missing transpose still has
the right shape: only the numbers can tell you.

The same exercise without the repository: ``handprop exercise start dense`` writes dense.py, and
``handprop exercise check dense.py`` names the mistake (transposed, sign flipped, missing 1/n...).
"""

import numpy as np

from handprop import Dense
from handprop.gradcheck import check_layer


class MyDense(Dense):
    def backward(self, delta, need_input_grad=True):
        x = self.x
        self.dW = x.T @ delta / len(x)  # TODO: is there a factor here that the forward pass did not have?
        self.db = delta[0]              # TODO: only the first sample's share?
        return delta @ self.W           # TODO: compare with z = x·W: which way does W go back?


def main():
    rng = np.random.default_rng(0)
    layer = MyDense(3, 3, rng=rng)
    x = rng.normal(size=(5, 3))
    report = check_layer(layer, x)
    print(report)
    return 0 if report.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
