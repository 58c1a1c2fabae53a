"""What the Python anchors share: the trivial task and the timed loops around an executor.

Each helper times only the loop itself (not the executor's start-up or shutdown), so that the
figures compare with the C++ benchmarks' iterations.
"""
import statistics
import time


def trivial(x):
    return x + 1


def burst_seconds(ex, n):
    """Submits trivial(0..n-1) at once, then collects every result; the seconds it took."""
    t0 = time.perf_counter()
    fs = [ex.submit(trivial, i) for i in range(n)]
    s = sum(f.result() for f in fs)
    dt = time.perf_counter() - t0
    assert s == n * (n + 1) // 2
    return dt


def round_trip_seconds(ex, n):
    """Seconds per task for n trivial tasks submitted and awaited one at a time."""
    t0 = time.perf_counter()
    for i in range(n):
        ex.submit(trivial, i).result()
    return (time.perf_counter() - t0) / n


def map_chunked_seconds(ex, n):
    """Seconds per item of map(trivial, range(n), chunksize=1000), read to the end."""
    t0 = time.perf_counter()
    s = sum(ex.map(trivial, range(n), chunksize=1000))
    dt = time.perf_counter() - t0
    assert s == n * (n + 1) // 2
    return dt / n


def map_seconds(ex, fn, n):
    """Seconds for list(ex.map(fn, range(n))): CPU-bound tasks, one item per task."""
    t0 = time.perf_counter()
    list(ex.map(fn, range(n)))
    return time.perf_counter() - t0


def median(f, *args, reps=3):
    """The median of `reps` calls of f(*args)."""
    return statistics.median(f(*args) for _ in range(reps))
