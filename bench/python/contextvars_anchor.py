"""Python anchor for bench/contextvars_bench.cpp: the same operations on CPython's contextvars.

    python3 bench/python/contextvars_anchor.py          # a table
    python3 bench/python/contextvars_anchor.py --json   # {"get": seconds per call, ...}
"""
import contextvars
import json
import statistics
import sys
import time

N = 1_000_000


def per_call(loop, n=N, reps=9):
    """Seconds per iteration of loop(n) minus an empty loop's, each pair timed back to back; the
    median of `reps` pairs (a busy machine disturbs a pair, not the median)."""
    def empty(n):
        for _ in range(n):
            pass

    def timed(f):
        t0 = time.perf_counter()
        f(n)
        return (time.perf_counter() - t0) / n

    diffs = []
    for _ in range(reps):
        diffs.append(timed(loop) - timed(empty))
    return statistics.median(diffs)


def scenarios():
    var = contextvars.ContextVar("var")
    unset = contextvars.ContextVar("unset", default=0)
    others = [contextvars.ContextVar(f"other{i}") for i in range(19)]

    def setup_and_measure():
        var.set(1)
        out = {}

        def get(n):
            g = var.get
            for _ in range(n):
                g()
        out["get"] = per_call(get)

        def get_default(n):
            g = unset.get
            for _ in range(n):
                g()
        out["get_default"] = per_call(get_default)

        def set_reset(n):
            s, r = var.set, var.reset
            for _ in range(n):
                r(s(2))
        out["set_reset"] = per_call(set_reset)

        def copy(n):
            c = contextvars.copy_context
            for _ in range(n):
                c()
        out["copy_context"] = per_call(copy)

        ctx = contextvars.copy_context()
        noop = lambda: None

        def run(n):
            r = ctx.run
            for _ in range(n):
                r(noop)
        out["run"] = per_call(run)

        for i, o in enumerate(others):
            o.set(i)

        def get20(n):
            g = var.get
            for _ in range(n):
                g()
        out["get_20_vars"] = per_call(get20)
        return out

    return contextvars.Context().run(setup_and_measure)


if __name__ == "__main__":
    figures = scenarios()
    if "--json" in sys.argv:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"python contextvars {k}: {v * 1e9:.1f} ns")
