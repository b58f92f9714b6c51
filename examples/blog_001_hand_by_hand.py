"""Blog 001, "Backpropagation Hand by Hand", rewritten with handprop.

Uniform [0, 1) initial weights and biases (np.random.rand), the input [-1, 1] in place of [1, 1],
½·sum of squared errors, and the blog's explicit loop: forward, delta, update.
"""

import numpy as np

from handprop import SGD, Dense, HalfSSE, Sequential, Sigmoid

x = np.array([[0, 0], [0, 1], [1, 0], [-1, 1]])
y = np.array([[0], [1], [1], [0]])

rng = np.random.RandomState(0)  # the blog leaves the seed unset; fix one to repeat the run
model = Sequential([
    Dense(2, 2, init="uniform", bias_init="uniform", rng=rng),  # W1, b1 = rand(2, 2), rand(1, 2)
    Sigmoid(),
    Dense(2, 1, init="uniform", bias_init="uniform", rng=rng),  # W2, b2 = rand(2, 1), rand(1, 1)
    Sigmoid(),
])
loss, optimizer = HalfSSE(), SGD(lr=0.1)  # eta = 0.1

for epoch in range(10000):
    a2 = model(x)                     # Step 2: forward pass
    loss.forward(a2, y)               # Step 3: loss = ½ Σ (y − a2)²
    model.backward(loss.backward())   # Step 4: delta2 = (a2 − y)·σ'(a2), delta1 = delta2·W2ᵀ·σ'(a1)
    optimizer.step(model.parameters())

print("Final output after training:")
print(a2)
