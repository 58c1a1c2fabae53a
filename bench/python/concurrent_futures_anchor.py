"""Python anchor for bench/concurrent_futures_bench.cpp: the same workloads in CPython.

    python3 bench/python/concurrent_futures_anchor.py
"""
import statistics
import time
from concurrent.futures import ThreadPoolExecutor


def trivial(x):
    return x + 1


def submit_collect(n=200_000):
    with ThreadPoolExecutor(max_workers=2) as ex:
        t0 = time.perf_counter()
        fs = [ex.submit(trivial, i) for i in range(n)]
        s = sum(f.result() for f in fs)
        dt = time.perf_counter() - t0
    assert s == n * (n + 1) // 2
    return n / dt


def round_trip(n=20_000):
    with ThreadPoolExecutor(max_workers=1) as ex:
        t0 = time.perf_counter()
        for i in range(n):
            ex.submit(trivial, i).result()
        return (time.perf_counter() - t0) / n


if __name__ == "__main__":
    rates = [submit_collect() for _ in range(3)]
    print(f"python ThreadPoolExecutor(2) submit+collect 200k trivial: {statistics.median(rates):,.0f} tasks/s")
    rts = [round_trip() for _ in range(3)]
    print(f"python ThreadPoolExecutor(1) round trip: {statistics.median(rts) * 1e6:.1f} us")
