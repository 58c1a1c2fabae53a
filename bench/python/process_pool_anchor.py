"""Python anchor for bench/concurrent_futures_process_pool_bench.cpp: the same scenarios with
CPython's ProcessPoolExecutor (2 workers, fork unless said otherwise).

    python3 bench/python/process_pool_anchor.py          # full
    python3 bench/python/process_pool_anchor.py --quick  # fewer tasks, for a fast look
"""
import multiprocessing as mp
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from anchor_timing import burst_seconds, map_chunked_seconds, map_seconds, median, round_trip_seconds, trivial


def kernel(seed):
    # A quarter of the C++ kernel's rounds: CPython runs them ~100x slower; only the ratio counts.
    x = seed | 1
    mask = (1 << 64) - 1
    for _ in range(50_000):
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
    return x


def pool(workers=2, method="fork"):
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method))


def serial_round_trip(n):
    with pool() as ex:
        ex.submit(trivial, 0).result()
        return round_trip_seconds(ex, n)


def burst(n):
    with pool() as ex:
        ex.submit(trivial, 0).result()
        return burst_seconds(ex, n) / n


def map_chunked(n):
    with pool() as ex:
        ex.submit(trivial, 0).result()
        return map_chunked_seconds(ex, n)


def kernel16(workers):
    with pool(workers) as ex:
        ex.submit(trivial, 0).result()
        return map_seconds(ex, kernel, 16)


def start_up(method, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with pool(1, method) as ex:
            ex.submit(trivial, 0).result()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    k = 10 if quick else 1
    print(f"python {sys.version.split()[0]} ProcessPoolExecutor(2, fork)")
    print(f"  serial round trip:           {median(serial_round_trip, 2000 // k) * 1e6:8.1f} us per task")
    print(f"  burst of {20000 // k} submits:       {median(burst, 20000 // k) * 1e6:8.1f} us per task")
    print(f"  map(chunksize=1000), 100k:   {median(map_chunked, 100_000 // k) * 1e6:8.2f} us per item")
    one, two = median(kernel16, 1, reps=1), median(kernel16, 2, reps=1)
    print(f"  16 CPU-bound tasks:          1 worker {one * 1e3:.0f} ms, 2 workers {two * 1e3:.0f} ms, "
          f"speedup {one / two:.2f}x")
    for method in ("fork", "spawn", "forkserver"):
        print(f"  start-up ({method:10s}):     {start_up(method, 5 if quick else 10) * 1e3:8.1f} ms "
              "(1-worker pool, one task, shutdown)")
