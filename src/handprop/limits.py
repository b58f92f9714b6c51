"""Sizes checked before memory is taken: what this machine can hold, and what a run would need.

A request that cannot fit (``--layers 1000000000``, a model file declaring 10 GB, a checkpoint asking
for 10**12 epochs) is refused at once with its estimate, instead of swapping for minutes or dying
with a MemoryError. The estimates are lower bounds of what the work needs, so that they never refuse
something that would have fitted. ``docs/limits.md`` lists every limit and why it is there.
"""

import itertools
import os

from .errors import HandpropValueError, TooLargeError

# A run that would take longer than this, at a speed no CPU reaches, is refused as a typo.
MAX_SECONDS = 365 * 24 * 3600
FLOPS = 1e12  # floating-point operations per second: optimistic for NumPy on a CPU
STEP_SECONDS = 1e-6  # the least a Python-level training step costs, however small the network
# A history value kept per epoch: a float in a list (24 + 8 bytes), for the loss, one metric and
# the epoch number at least.
HISTORY_BYTES_PER_EPOCH = 3 * 32


def available_memory():
    """Bytes this process can still take: the memory the system reports available (Linux's
    ``MemAvailable``, else free pages, else, where only that is known, all of the memory), lowered by
    an address-space limit (``ulimit -v``) if one is set. None where the system does not say."""
    found = None
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    found = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    for pages in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):  # free pages, else (macOS) all of them
        if found is None:
            try:
                found = os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
            except (AttributeError, ValueError, OSError):
                found = None
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            left = max(0, soft - _address_space_used())
            found = left if found is None else min(found, left)
    except (ImportError, OSError, ValueError):
        pass
    return found


def _address_space_used():
    """Bytes of address space this process holds (Linux's VmSize; 0 where unknown)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def fmt_bytes(n):
    """``1.5 GiB``: a byte count for a message."""
    n = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def check_memory(what, nbytes, fix, free=...):
    """Refuse ``what`` (a phrase: "this network") when ``nbytes`` exceed the available memory
    (``free``: bytes, or None for unknown; by default ``available_memory()``), with a TooLargeError."""
    free = available_memory() if free is ... else free
    if free is not None and nbytes > free:
        raise TooLargeError(f"{what} needs at least {fmt_bytes(nbytes)} of memory, and this machine has "
                                 f"{fmt_bytes(free)} available; {fix}")


def training_bytes(sizes, batch_rows, epochs, optimizer_slots=2):
    """A lower bound of the memory a training run takes beyond its data (float64).

    ``sizes`` are the layer widths, input first; per parameter: the weight, its gradient, the copy
    ``fit`` keeps to roll back a diverged step and ``optimizer_slots`` state arrays (Adam: 2); per
    batch row: each layer's output kept for backward, and its delta; per epoch: the history.
    """
    params = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    activations = batch_rows * sum(sizes) * 2
    return 8 * (params * (3 + optimizer_slots) + activations) + epochs * HISTORY_BYTES_PER_EPOCH


def training_seconds(sizes, rows, batch_rows, epochs):
    """A lower bound of the time a run takes: 6 floating-point operations per parameter per row
    (forward and backward) at ``FLOPS``, and ``STEP_SECONDS`` per step."""
    params = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    steps = epochs * -(-rows // max(1, batch_rows))
    return epochs * rows * params * 6 / FLOPS + steps * STEP_SECONDS


def check_training(sizes, rows, batch_rows, epochs, optimizer_slots=2, fix="use fewer or smaller layers"):
    """Refuse a run whose memory (or, for an absurd count, time) cannot be had."""
    check_memory(f"training layers of sizes {_sizes(sizes)} for {epochs} epochs",
                 training_bytes(sizes, batch_rows, epochs, optimizer_slots), fix)
    seconds = training_seconds(sizes, rows, batch_rows, epochs)
    if seconds > MAX_SECONDS:
        raise HandpropValueError(
            f"training layers of sizes {_sizes(sizes)} on {rows} rows for {epochs} epochs would take at least "
            f"{seconds / 86400:.3g} days (at {FLOPS:.0e} operations per second, faster than any CPU); {fix}")


def _sizes(sizes):
    shown = [str(s) for s in sizes[:8]] + (["..."] if len(sizes) > 8 else [])
    return "-".join(shown)
