"""The training doctor's checks (see ``handprop.doctor``): one function per finding.

Each ``_check_*(ctx)`` reads what ``diagnose`` measured (``ctx``: the model, its layer inputs, ``P``
against ``T``, the loss curve, gradient norms) and returns a Finding, a list, or None; each threshold
sits next to its check, with why.
"""

import numpy as np

from . import losses
from .activations import ReLU, Sigmoid, Softmax, Tanh
from .layers import Dense


class Finding:
    """One diagnosis: ``code``, ``title``, ``evidence`` (what was measured, in words and numbers),
    ``why`` (the mechanism), ``fix`` (what to change) and ``suggest``: the same fix as settings
    (``{"hidden": 4}``, ``{"lr": 1.0}``, ``{"init": "glorot_uniform"}``...), a list of alternatives."""

    def __init__(self, code, title, evidence, why, fix, suggest=()):
        self.code, self.title, self.evidence, self.why, self.fix, self.suggest = code, title, evidence, why, fix, list(suggest)

    def __str__(self):
        return (f"[{self.code}] {self.title}\n  seen: {self.evidence}\n  why:  {self.why}\n"
                f"  fix:  {self.fix}")

    def __repr__(self):
        return f"Finding({self.code!r})"


def _hidden_activation_layers(model):
    """(index, layer) of activation layers that feed another Dense (hidden, not the output)."""
    last_dense = max((i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)), default=-1)
    return [(i, layer) for i, layer in enumerate(model.layers) if i < last_dense and not isinstance(layer, Dense)]


def _fmt_row(x):  # + 0.0: no "-0"
    return "[" + ", ".join(f"{v + 0.0:.4g}" for v in np.asarray(x).reshape(-1)) + "]"


# -- the checks --------------------------------------------------------------------------------------
def _check_merged(ctx):
    """Different targets, (almost) the same last hidden representation: the output layer, a weighted
    sum of that representation, must give them (almost) the same output."""
    m, T, P = ctx["model"], ctx["T"], ctx["P"]  # targets and outputs as probabilities (one-hot for CE)
    dense = [i for i, layer in enumerate(m.layers) if isinstance(layer, Dense)]
    if len(dense) < 2:
        return None
    H = ctx["inputs"][dense[-1]].astype(np.float64)
    rows = np.arange(len(H))
    if len(H) > 1000:  # pairs grow as n²: look at a fixed sample of 1000 rows
        rows = np.sort(np.random.default_rng(0).choice(len(H), 1000, replace=False))
    H, T, P = H[rows], T[rows], P[rows]
    n = len(H)
    sq = (H * H).sum(1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * H @ H.T, 0.0))  # n × n, no n × n × d
    ydist = np.zeros((n, n))
    for k in range(T.shape[1]):
        ydist = np.maximum(ydist, np.abs(T[:, k, None] - T[None, :, k]))
    yrange = float(T.max() - T.min()) or 1.0
    iu = np.triu_indices(n, 1)
    typical = np.median(dist[iu]) if n > 2 else dist.max()
    miss = np.abs(P - T).max(-1) > 0.25 * yrange
    # 5% of the typical distance between samples: close enough that the output weights would have to
    # be ~20× larger than elsewhere to separate the pair
    close = (dist[iu] < 0.05 * typical) & (ydist[iu] >= 0.5 * yrange) & (miss[iu[0]] | miss[iu[1]])
    pairs = _apart_in_input(ctx["X"][rows], [(int(i), int(j)) for i, j, c in zip(iu[0], iu[1], close) if c])
    if not pairs:
        return None
    i, j = pairs[0]
    act = m.layers[dense[-1] - 1]
    show_y = ctx["y_show"][rows]
    evidence = (f"the last hidden layer maps {_fmt_row(ctx['X_raw'][rows[i]])} (target {_fmt_row(show_y[i])}) "
                f"and {_fmt_row(ctx['X_raw'][rows[j]])} (target {_fmt_row(show_y[j])}) to almost the same "
                f"point, {_fmt_row(H[i])} vs {_fmt_row(H[j])} (distance {dist[i, j]:.3g}, typical "
                f"{typical:.3g}); the model outputs {_fmt_row(P[i])} and {_fmt_row(P[j])}")
    if len(pairs) > 1:
        evidence += f"; {len(pairs)} such pairs in all"
    why = "the output layer only sees that point, so it must give both inputs nearly the same value"
    floor = _merged_floor(ctx, [(rows[a], rows[b]) for a, b in pairs])
    if floor is not None:
        why += (f"; the best compromise is their mean target, so while they stay merged the loss cannot "
                f"go below {floor:.4g} (it is {ctx['L']:.4g} now)")
    a = H[[i, j]]
    slope, peak = (a * (1 - a), 0.25) if isinstance(act, Sigmoid) else (1 - a * a, 1.0)
    saturating = isinstance(act, (Sigmoid, Tanh))
    if saturating and slope.max() < 0.1 * peak:
        why += (f". Their hidden units are saturated: {type(act).__name__}'(z) is "
                f"{slope.min():.2g}–{slope.max():.2g} there (at most {peak:g}), so the gradient that could "
                "pull them apart is tiny; more epochs or a larger learning rate only push both outputs "
                "toward that compromise")
    elif isinstance(act, ReLU) and not a.any():
        why += ". Every hidden ReLU is off (0) for both, so no gradient reaches the units that could split them"
    fix, suggest = _merged_fix(m.layers[dense[-1]].n_in, saturating, ctx.get("adam"), _all_init(m, "glorot"))
    return Finding("merged_samples", "inputs with different targets look the same to the output layer",
                   evidence, why, fix, suggest)


def _merged_fix(h, saturating, adam, glorot):
    """The fix for merged samples, in words and as settings: more hidden units than ``h``; for a
    saturating activation also Glorot's smaller init and Adam (each unless the run uses it already)."""
    fix = f"give the network more room: more hidden units (e.g. {2 * h} instead of {h}; with more units " \
          "some start out separating these inputs)"
    suggest = [{"hidden": 2 * h}]
    if saturating and not glorot:  # both tried on blog 000 (tests): they keep the units out of the flat ends
        fix += ", or smaller initial weights that keep units out of saturation (init='glorot_uniform')"
        suggest += [{"init": "glorot_uniform"}]
    if saturating and not adam:  # never "use Adam" to a run that uses Adam
        fix, suggest = fix + ", or Adam (lr 0.1), whose per-weight step size does not shrink with the gradient", \
            suggest + [{"optimizer": "adam", "lr": 0.1}]
    return fix, suggest


def _apart_in_input(X, pairs):
    """The pairs whose inputs are apart (≥ 5% of the typical distance): inputs that are almost one
    point (the spirals' centre) are the data's ambiguity, not the network's doing."""
    X = X.astype(np.float64).reshape(len(X), -1)
    sq = (X * X).sum(1)
    if not pairs:
        return []
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0.0))
    floor = 0.05 * np.median(d[np.triu_indices(len(X), 1)])  # once: pairs can number n²/2
    return [(i, j) for i, j in pairs if d[i, j] >= floor]


def _merged_floor(ctx, pairs):
    """The loss if every sample were fitted exactly except that each merged group shares one output,
    the group's mean target (the best shared value for squared error and cross-entropy alike)."""
    loss, T = ctx["loss"], ctx["T"]
    group = np.arange(len(T))
    for i, j in pairs:  # merge the groups of i and j
        group[group == group[j]] = group[i]
    best = T.astype(np.float64).copy()
    for g in np.unique(group):
        best[group == g] = T[group == g].mean(axis=0)
    if isinstance(loss, losses.CrossEntropy):  # log-probabilities are valid logits
        return float(losses.CrossEntropy().forward(np.log(np.clip(best, 1e-12, 1)), ctx["y_show"]))
    if isinstance(loss, losses.BCE) and loss.from_logits:
        p = np.clip(best, 1e-12, 1 - 1e-12)
        best = np.log(p / (1 - p))
    elif not isinstance(loss, (losses.MSE, losses.HalfSSE, losses.BCE)):
        return None
    return float(type(loss)(**loss.get_config()).forward(best, ctx["y2"]))


def _check_saturated(ctx):
    if not ctx["bad_fit"]:
        return None  # saturated units in a network that fits are decided units, not a problem
    for i, layer in _hidden_activation_layers(ctx["model"]):
        if not isinstance(layer, (Sigmoid, Tanh)):
            continue
        a = ctx["inputs"][i + 1] if i + 1 < len(ctx["inputs"]) else None
        if a is None:
            continue
        slope, peak = (a * (1 - a), 0.25) if isinstance(layer, Sigmoid) else (1 - a * a, 1.0)
        sat = slope < 0.1 * peak  # a tenth of the best slope: the gradient is cut 10× or more
        share = float(sat.mean())
        if share >= 0.25:
            units, glorot = np.flatnonzero(sat.mean(axis=0) >= 0.5), _all_init(ctx["model"], "glorot")
            return Finding(
                "saturated", f"saturated {type(layer).__name__} units in layer {i}",
                f"{share:.0%} of layer {i}'s outputs sit where its derivative is below {0.1 * peak:g} "
                f"(a tenth of its peak {peak:g}); "
                + (f"units {units.tolist()} are saturated on most samples; " if units.size else "")
                + f"mean |z| = {np.abs(ctx['inputs'][i]).mean():.3g}",
                "backprop multiplies the error by that derivative, so saturated units pass back (and "
                "receive) 10× to 1000× less gradient: they stop learning while the loss is still high",
                ("" if glorot else "start from smaller weights (init='glorot_uniform'), ")
                + ("" if ctx.get("unit_inputs") else "scale the inputs to unit size, ") + "and if the weights "
                "grew during training, lower the learning rate; tanh or ReLU hidden units saturate less than "
                "sigmoid", ([] if glorot else [{"init": "glorot_uniform"}])
                + [{"activation": "tanh" if isinstance(layer, Sigmoid) else "relu"}])
    return None


def _check_dead_relu(ctx):
    lr = ctx["lr"]
    for i, layer in enumerate(ctx["model"].layers):
        if type(layer) is not ReLU or i + 1 >= len(ctx["inputs"]):
            continue
        active = ctx["inputs"][i + 1] > 0
        dead = ~active.any(axis=0)
        share = float(dead.mean())
        # A few dead units are normal (He init, Adam); half the layer is lost capacity even when the
        # fit is good, a quarter matters when the fit is poor.
        if share >= 0.5 or (share >= 0.25 and ctx["bad_fit"]):
            return Finding(
                "dead_relu", f"dead ReLU units in layer {i}",
                f"{int(dead.sum())} of {dead.size} units ({share:.0%}) are never active on the "
                f"{len(ctx['X'])} samples (their z ≤ 0 everywhere)",
                "ReLU's derivative is 0 for z ≤ 0, so a unit that is off for every sample gets no "
                "gradient and can never turn back on: that part of the layer is gone",
                "lower the learning rate (a large step pushed their biases down"
                + (f"; lr = {_lower(ctx, True)['lr']:g}" if lr else "") + "), "
                + ("" if _all_init(ctx["model"], "he") else "use He initialisation (init='he_uniform'), ")
                + "or LeakyReLU (activation='leaky_relu'), which keeps a small slope",
                ([_lower(ctx, True)] if lr else []) + [{"activation": "leaky_relu", **_lower(ctx)}]
                + ([] if _all_init(ctx["model"], "he") else [{"init": "he_uniform", **_lower(ctx)}]))
    return None


def _lower(ctx, always=False):
    """``{"lr": a tenth of lr, at most 0.1 (SGD) or 0.01 (Adam)}`` (a tenth of lr 50 would still throw
    the weights out of range): always, or only when lr is large enough to have killed the units by
    itself (SGD above 0.5, Adam above 0.05: 50× train's defaults); else ``{}``."""
    lr = ctx["lr"]
    if lr is None or not (always or lr > (0.05 if ctx["adam"] else 0.5)):
        return {}
    return {"lr": min(lr / 10, 0.01 if ctx["adam"] else 0.1)}


def _all_init(model, prefix):
    """Whether every Dense layer was drawn by an initialiser named ``prefix...`` (never advise what ran)."""
    return all(str(getattr(layer, "init", "")).startswith(prefix) for layer in model.layers if isinstance(layer, Dense))


def _relu_net(model):
    return any(isinstance(layer, ReLU) for layer in model.layers)


def _check_gradients(ctx):
    norms = ctx["grad_norms"]
    if norms is None or norms.shape[1] < 2 or len(norms) == 0:
        return []
    finite = np.all(np.isfinite(norms), axis=1)
    out = []
    ratio = norms[:, 0] / np.maximum(norms[:, -1], 1e-300)
    med = float(np.median(ratio[finite])) if finite.any() else np.inf
    per_layer = ", ".join(f"{v:.2g}" for v in np.median(norms[finite], axis=0)) if finite.any() else "inf"
    # The backward signal itself, δ_l = ∂L/∂z_l (RMS per entry), at the final weights: when the forward
    # values grow as fast as δ shrinks, ‖∂L/∂W‖ = ‖a_(l-1)ᵀ δ_l‖ can hide it, δ does not.
    d = np.asarray(ctx["deltas"])
    d_ratio = float(d[0] / max(d[-1], 1e-300)) if d.size > 1 and np.all(np.isfinite(d)) else 1.0
    deltas = ", ".join(f"{v:.2g}" for v in d)
    evidence = (f"median ‖∂L/∂W‖ per Dense layer, first to last: {per_layer} (first/last = {med:.2g}); "
                f"RMS of δ = ∂L/∂z per Dense layer now: {deltas} (first/last = {d_ratio:.2g})")
    # 1e-3 between first and last layer: the first layer learns a thousand times slower. Depth is what
    # makes the product vanish; with two Dense layers a small ratio is saturation (reported as such).
    deep = norms.shape[1] >= 3
    if deep and (med < 1e-3 or d_ratio < 1e-3):
        out.append(Finding(
            "vanishing_gradients", "vanishing gradients", evidence,
            "each layer multiplies the backward signal by its Wᵀ and its activation's derivative (" + ("0 wherever "
            "a ReLU's z ≤ 0" if _relu_net(ctx["model"]) else "≤ 0.25 for sigmoid, ≤ 1 for tanh") + "); "
            "through many layers the product shrinks, so the first layers barely move",
            "fewer layers" if _relu_net(ctx["model"]) else "use ReLU or tanh hidden units with He/Glorot "
            "initialisation, or fewer layers", [] if _relu_net(ctx["model"]) else [{"activation": "relu", "init": "he_uniform"}]))
    growth = norms[finite][-1] / np.maximum(norms[finite][0], 1e-300) if finite.sum() > 1 else np.ones(1)
    if (deep and (med > 1e3 or d_ratio > 1e3)) or not finite.all() or float(np.max(growth)) > 1e4:
        out.append(Finding(
            "exploding_gradients", "exploding gradients",
            evidence + f"; largest growth of ‖∂L/∂W‖ over training ×{float(np.max(growth)):.2g}"
            + ("" if finite.all() else "; some gradients became inf/NaN"),
            "when weights are large, each layer multiplies the backward signal by more than 1 and the "
            "product grows layer after layer; steps become huge and training jumps around or diverges",
            "use smaller initial weights (Glorot/He), a smaller learning rate, or fewer layers",
            [{"init": "glorot_uniform"}]))
    return out


def _check_lr(ctx):
    """The loss curve first (rising, oscillating, flat); then a step far larger than the weights."""
    found, lr = lr_curve_finding(ctx), ctx["lr"]
    if found is not None and found.code == "lr_too_high":
        return found
    step = _step_size(ctx)
    if lr is not None and ctx["bad_fit"] and step > 1:
        return Finding(
            "lr_too_high", "learning rate too high: one step moves the weights more than their own size",
            f"with lr = {lr:g}, one step changes the weights by about "
            f"{step / (5 if ctx['adam'] else 1):.3g}× their RMS size",
            "a step that large throws the weights far past any minimum; ReLU units pushed below 0 stay dead",
            f"divide the learning rate by 100 (lr = {lr / 100:g})", [{"lr": lr / 100}])
    return found


def lr_curve_finding(ctx):
    hist = np.asarray(ctx["history"].loss if ctx["history"] is not None else [], dtype=np.float64)
    lr = ctx["lr"]
    lr_text = f"lr = {lr:g}" if lr is not None else "the learning rate"
    if len(hist) >= 5 and np.all(np.isfinite(hist)):
        rel = np.diff(hist) / np.maximum(np.abs(hist[:-1]), 1e-12)
        ups = rel > 1e-3  # ignore rounding-size wiggles
        # rising overall, or going up on a third of the epochs: steps overshoot the minimum
        # Mini-batch losses jitter near a good minimum: oscillation only counts while the fit is poor.
        oscillating = ups.mean() > 1 / 3 and rel[ups].mean() > 0.01 and ctx["bad_fit"]
        if hist[-1] > 1.05 * hist[0] or oscillating:
            return Finding(
                "lr_too_high", "learning rate too high: the loss rises or oscillates",
                f"the loss went from {hist[0]:.4g} to {hist[-1]:.4g} and rose on {ups.mean():.0%} "
                f"of the epochs (mean rise {rel[ups].mean() if ups.any() else 0:.1%}) with {lr_text}",
                "a step of lr·∂L/∂W overshoots the valley's floor and lands higher on the other side",
                f"divide the learning rate by 10{f' (lr = {lr / 10:g})' if lr else ''}",
                [{"lr": lr / 10}] if lr else [])
        g = ctx["grad_norm"]
        # flat: <1% better over the whole run, while still far from fitting and with a real gradient
        if (len(hist) >= 20 and hist[-1] > 0.99 * hist[0] and ctx["bad_fit"]
                and g > 1e-3 * max(ctx["L"], 1e-12)):
            return Finding(
                "lr_too_low", "learning rate too low: the loss is flat",
                f"over {len(hist)} epochs the loss moved from {hist[0]:.4g} to {hist[-1]:.4g} (less than "
                f"1%), although ‖∂L/∂θ‖ = {g:.3g} is not small, with {lr_text}",
                "each step changes the loss by about lr·‖∂L/∂θ‖², which is tiny here: the network is "
                "moving, just too slowly to see",
                f"multiply the learning rate by 10{f' (lr = {lr * 10:g})' if lr else ''}"
                + ("" if ctx.get("adam") else ", or use Adam"),
                [{"lr": lr * 10}] if lr else [])
    return None


def _step_size(ctx):
    """A step's size relative to the weights: Adam moves each weight by about lr, SGD by lr·|g|."""
    lr, dense = ctx["lr"], [layer for layer in ctx["model"].layers if isinstance(layer, Dense)]
    if lr is None or not dense:
        return 0.0
    w = np.sqrt(np.mean(np.concatenate([np.square(layer.W, dtype=np.float64).ravel() for layer in dense])))
    if ctx["adam"]:  # ×5: Adam's steps are about lr each, and a poor fit already stands behind the check
        return float(5 * lr / max(w, 1e-12))
    g = np.sqrt(np.mean(np.concatenate([np.square(layer.dW, dtype=np.float64).ravel() for layer in dense])))
    return float(lr * g / max(w, 1e-12))


def _check_inputs(ctx):
    X = ctx["X"].astype(np.float64)
    top = np.max(np.abs(X), axis=0, initial=0.0)
    top[~(top > 0)] = 1.0  # statistics of X / top, scaled back: finite for any finite X (near 1e308 too)
    std, mean = (X / top).std(axis=0) * top, (X / top).mean(axis=0) * top
    used = std > 0
    if not used.any():
        return None
    big = (std > 10) | (np.abs(mean) > 10 * np.maximum(std, 1e-12)) & (np.abs(mean) > 10)
    spread = std[used].max() / std[used].min()
    if big.any() or spread > 100:
        cols = np.flatnonzero(big | (used & (std > 10 * np.median(std[used])))).tolist()
        return Finding(
            "unscaled_inputs", "inputs are not scaled",
            f"feature std from {std[used].min():.3g} to {std[used].max():.3g}, |mean| up to "
            f"{np.abs(mean).max():.3g}; features {cols[:10]} are far from unit scale",
            "initial weights are drawn for inputs of size ~1: big inputs make z = x·W big (saturated "
            "sigmoids, huge gradients) and features of very different scale need very different step "
            "sizes, which one learning rate cannot give",
            "standardise each feature: x ← (x − mean) / std, computed on the training data "
            "(handprop.data.StandardScaler)", [{"standardize": True}])
    return None


def _check_symmetry(ctx):
    m = ctx["model"]
    dense = [i for i, layer in enumerate(m.layers) if isinstance(layer, Dense)]
    for a, b in zip(dense[:-1], dense[1:]):
        W, bias, W_next = m.layers[a].W, m.layers[a].b, m.layers[b].W
        if W.shape[1] < 2:
            continue
        incoming = np.vstack([W, bias[None, :]]).T  # one row per unit: its weights and bias
        key = np.hstack([incoming, W_next])
        # Copies stay bit-identical through training (same values, same gradients), so exact
        # equality of the rows finds them, in O(units log units).
        _, group, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        if counts.max() > 1:
            biggest = np.flatnonzero(group.reshape(-1) == np.argmax(counts))
            return Finding(
                "symmetric_init", f"identical hidden units in Dense layer {a}",
                f"units {[int(u) for u in biggest]} of layer {a} have identical incoming weights, bias and outgoing "
                f"weights ({len(biggest)} of {W.shape[1]} units are copies)",
                "identical units compute the same activation and receive the same gradient, so every "
                "update keeps them identical: the layer works like one unit, whatever its size",
                "initialise the weights randomly (init='glorot_uniform' or 'he_uniform'), never to a "
                "constant", [{"init": "glorot_uniform"}])
    return None


def _check_output_range(ctx):
    m, y = ctx["model"], ctx["y2"]
    last = m.layers[-1]
    if ctx["loss_is_ce"] or y.dtype.kind not in "fiub":
        return None
    ranges = {Sigmoid: (0.0, 1.0, "(0, 1)"), Tanh: (-1.0, 1.0, "(−1, 1)"), ReLU: (0.0, np.inf, "[0, ∞)"),
              Softmax: (0.0, 1.0, "[0, 1] with rows summing to 1")}
    rule = ranges.get(type(last))
    if rule is None:
        return None
    lo, hi, text = rule
    outside = (y < lo) | (y > hi)
    if isinstance(last, Softmax):
        outside = outside | ~np.isclose(y.sum(axis=1, keepdims=True), 1.0)
    if outside.mean() == 0:
        return None
    return Finding(
        "output_range", f"the output layer ({type(last).__name__}) cannot produce the targets",
        f"{outside.mean():.0%} of the targets lie outside {text} (targets from {y.min():.4g} to "
        f"{y.max():.4g})",
        f"{type(last).__name__} only outputs values in {text}: no weights can fit the other targets, "
        "and the loss pushes those units into saturation",
        "for regression end the model with a linear output (no activation after the last Dense), or "
        "rescale the targets into the output's range", [{"output": None}])


# Ranked by cause: what the data and settings do wrong comes before the symptoms it produces.
CHECKS = (_check_output_range, _check_inputs, _check_lr, _check_symmetry, _check_merged, _check_saturated,
          _check_dead_relu, _check_gradients)  # then doctor.py's overfitting checks
