"""Python anchor for bench/multiprocessing_bench.cpp's manager case: one setitem and one getitem
on a multiprocessing.Manager().dict() proxy (two round trips to the manager's server process).

    python3 bench/python/multiprocessing_anchor.py          # a line of text
    python3 bench/python/multiprocessing_anchor.py --json   # {"manager_dict_set_get": seconds per pair}
"""
import json
import multiprocessing as mp
import statistics
import sys
import time

N = 5_000


def manager_dict_set_get(reps=5):
    with mp.Manager() as manager:
        d = manager.dict()
        d[0] = 0  # this thread's connection is up
        per_pair = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for i in range(N):
                d[1] = i
                d[1]
            per_pair.append((time.perf_counter() - t0) / N)
        return statistics.median(per_pair)


if __name__ == "__main__":
    figures = {"manager_dict_set_get": manager_dict_set_get()}
    if "--json" in sys.argv:
        print(json.dumps(figures))
    else:
        print(f"Manager().dict(): setitem + getitem {figures['manager_dict_set_get'] * 1e6:.1f} us")
