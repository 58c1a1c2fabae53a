"""Python anchor for bench/mpi_bench.cpp: the same scenarios with mpi4py.futures'
MPIPoolExecutor (Debian's python3-mpi4py; workers spawned, 2 unless said otherwise).

    /usr/bin/python3 bench/python/mpi_anchor.py  # prints the figures (Debian's python3-mpi4py)
    python3 bench/python/mpi_anchor.py --json    # one JSON object (what mpi_bench reads)
    python3 bench/python/mpi_anchor.py --quick   # fewer tasks

Run it as the benchmark is run: alone (a singleton that spawns), with Open MPI pinned to the
loopback interface (OMPI_MCA_btl_tcp_if_include=lo, OMPI_MCA_oob_tcp_if_include=lo) and allowed
to run as root / oversubscribe where needed. nogil_mpi_bench runs this script itself.
"""
import json
import sys
import time

from anchor_timing import burst_seconds, map_chunked_seconds, map_seconds, median, round_trip_seconds, trivial
from process_pool_anchor import kernel  # the same CPU-bound task

from mpi4py.futures import MPIPoolExecutor


def pool(workers=2):
    ex = MPIPoolExecutor(max_workers=workers)
    ex.submit(trivial, 0).result()  # workers started
    return ex


def serial_round_trip(n):
    with pool() as ex:
        return round_trip_seconds(ex, n)


def burst(n):
    with pool() as ex:
        return burst_seconds(ex, n) / n


def map_chunked(n):
    with pool() as ex:
        return map_chunked_seconds(ex, n)


def kernel16(workers):
    with pool(workers) as ex:
        return map_seconds(ex, kernel, 16)


def startup():
    t0 = time.perf_counter()
    with MPIPoolExecutor(max_workers=2) as ex:
        ex.bootup(wait=True)
        dt = time.perf_counter() - t0
    return dt


def main():
    quick = "--quick" in sys.argv
    n = 200 if quick else 2000
    figures = {
        "serial_round_trip_s": median(serial_round_trip, n),
        "burst_per_task_s": median(burst, 2000 if quick else 20000, reps=1),
        "map_chunked_per_item_s": median(map_chunked, 20000 if quick else 200000),
        "kernel16_1_worker_s": kernel16(1),
        "kernel16_2_workers_s": kernel16(2),
        "startup_s": median(startup),
    }
    figures["kernel16_speedup"] = figures["kernel16_1_worker_s"] / figures["kernel16_2_workers_s"]
    if "--json" in sys.argv:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k:28} {v:.6g}")


if __name__ == "__main__":
    main()
