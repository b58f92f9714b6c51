"""Blog 000, "Backpropagation from Scratch", rewritten with handprop.

A 2-2-1 sigmoid network learns XOR with mean squared error and plain gradient descent. Same seed,
same draws, same numbers: Epoch 0, Loss: 0.2558 ... Epoch 9000, Loss: 0.1438.
"""

import numpy as np

from handprop import MSE, SGD, Dense, Sequential, Sigmoid

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
y = np.array([[0], [1], [1], [0]])

rng = np.random.RandomState(42)  # the blog's np.random.seed(42)
model = Sequential([
    Dense(2, 2, init="normal", rng=rng),  # W1 = np.random.randn(2, 2), b1 = zeros
    Sigmoid(),
    Dense(2, 1, init="normal", rng=rng),  # W2 = np.random.randn(2, 1), b2 = zeros
    Sigmoid(),
])

model.fit(X, y, loss=MSE(), optimizer=SGD(lr=0.1), epochs=10000, log_every=1000)

print("\nFinal predictions:")
print(model.predict(X).round(4))
