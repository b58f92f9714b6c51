"""Blog 002, "Wrapping Your Head Around Backpropagation", rewritten with handprop.

The blog writes column vectors, ``z1 = W1 @ x + b1`` with W1 of shape (3, 2). handprop uses rows,
``z1 = x @ W1 + b1`` with W1 of shape (2, 3): the same numbers, transposed. One sample, three
hidden units, ½·sum of squared errors.
"""

import numpy as np

from handprop import SGD, Dense, HalfSSE, Sequential, Sigmoid

x = np.array([[0.5, 0.1]])  # the blog's 2x1 column x, as one row
y_true = np.array([[1.0]])

np.random.seed(0)  # the blog's draws, in its own (out, in) shapes
W1, b1 = np.random.randn(3, 2), np.random.randn(3, 1)
W2, b2 = np.random.randn(1, 3), np.random.randn(1, 1)

model = Sequential([
    Dense(2, 3, weight=W1.T, bias=b1.T), Sigmoid(),
    Dense(3, 1, weight=W2.T, bias=b2.T), Sigmoid(),
])
loss, optimizer = HalfSSE(), SGD(lr=0.1)

for epoch in range(1000):
    y_pred = model(x)
    value = loss.forward(y_pred, y_true)
    model.backward(loss.backward())
    optimizer.step(model.parameters())
    if epoch % 100 == 0:
        print(f"Epoch {epoch}, Loss: {value:.4f}")
