"""Python anchor for bench/concurrent_futures_bench.cpp: the same workloads in CPython.

    python3 bench/python/concurrent_futures_anchor.py
"""
from concurrent.futures import ThreadPoolExecutor

from anchor_timing import burst_seconds, median, round_trip_seconds


def submit_collect(n=200_000):
    with ThreadPoolExecutor(max_workers=2) as ex:
        return n / burst_seconds(ex, n)


def round_trip(n=20_000):
    with ThreadPoolExecutor(max_workers=1) as ex:
        return round_trip_seconds(ex, n)


if __name__ == "__main__":
    rate = median(submit_collect)
    print(f"python ThreadPoolExecutor(2) submit+collect 200k trivial: {rate:,.0f} tasks/s")
    rt = median(round_trip)
    print(f"python ThreadPoolExecutor(1) round trip: {rt * 1e6:.1f} us")
