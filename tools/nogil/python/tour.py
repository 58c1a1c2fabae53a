#!/usr/bin/env python3
"""The Python side of `nogil tour`: the same workloads as the C++ side, in CPython.

Run by `nogil tour` as a child process, with the sizes it uses (see --help). Prints one JSON object
on stdout: {"python": {...}, "sections": [{"id": ..., "rows": [...]}, ...]} in the format of
docs/tour.md (figures in base units: s, ops/s, bytes). With --progress, lines "# total N" and
"# step LABEL" come first, so the caller can show where it is.

    python3 tour.py --repeat 3 --cpu-tasks 16 --cpu-steps 5000 --workers 1,2
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

MASK = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# The CPU kernel: xorshift64 from a seed derived from the task number; the C++ kernel exactly.

def kernel(task, steps):
    x = (task * 0x9E3779B97F4A7C15 + 1) & MASK
    for _ in range(steps):
        x ^= (x << 13) & MASK
        x ^= x >> 7
        x ^= (x << 17) & MASK
    return x


def kernel_range(first, stride, tasks, steps):
    return sum(kernel(t, steps) for t in range(first, tasks, stride)) & MASK


def trivial(x):
    return x + 1


# ---------------------------------------------------------------------------------------------
# Measurement: one warm-up round, then `repeat` measured rounds, each running every measurement
# once (interleaved, so a load that drifts affects all models alike); median and min-max.

def figure(name, unit, values):
    return {"name": name, "unit": unit, "median": statistics.median(values), "min": min(values),
            "max": max(values), "samples": len(values)}


class SameResult:
    """Remembers a measurement's first result and checks every later one against it."""

    def __init__(self, what):
        self.what, self.value, self.runs = what, None, 0

    def check(self, result):
        self.runs += 1
        if self.runs == 1:
            self.value = result
        elif result != self.value:
            raise RuntimeError(f"{self.what}: run {self.runs} gave {result!r}, the first gave {self.value!r}")


def time_run(run):
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def row(model, kind, workers, figures, checksum=""):
    return {"runtime": "python", "model": model, "kind": kind, "workers": workers, "checksum": checksum,
            "figures": figures}


# ---------------------------------------------------------------------------------------------
# CPU-bound models: (name, kind, takes n workers, run(tasks, steps, n) -> checksum)

def cpu_serial(tasks, steps, n):
    return kernel_range(0, 1, tasks, steps)


def cpu_threads(tasks, steps, n):
    partial = [0] * n

    def work(k):
        partial[k] = kernel_range(k, n, tasks, steps)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(partial) & MASK


def cpu_thread_pool(tasks, steps, n):
    with ThreadPoolExecutor(n) as ex:
        futures = [ex.submit(kernel, t, steps) for t in range(tasks)]
        return sum(f.result() for f in futures) & MASK


def cpu_process_pool(tasks, steps, n):
    with ProcessPoolExecutor(n) as ex:
        futures = [ex.submit(kernel, t, steps) for t in range(tasks)]
        return sum(f.result() for f in futures) & MASK


def _mpi_executor():
    """mpi4py.futures.MPIPoolExecutor when mpi4py is installed (the "many machines" rows), with
    Open MPI pinned to loopback as the C++ side does (where the environment does not say)."""
    for key, value in (("OMPI_MCA_btl_tcp_if_include", "lo"), ("OMPI_MCA_oob_tcp_if_include", "lo"),
                       ("OMPI_ALLOW_RUN_AS_ROOT", "1"), ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"),
                       ("OMPI_MCA_rmaps_base_oversubscribe", "1")):
        os.environ.setdefault(key, value)
    try:
        from mpi4py.futures import MPIPoolExecutor
    except ImportError:
        return None
    return MPIPoolExecutor


def cpu_mpi_pool(tasks, steps, n):
    with _mpi_executor()(max_workers=n) as ex:
        futures = [ex.submit(kernel, t, steps) for t in range(tasks)]
        return sum(f.result() for f in futures) & MASK


def cpu_processes(tasks, steps, n):
    queue = multiprocessing.SimpleQueue()
    procs = [multiprocessing.Process(target=_process_part, args=(queue, k, n, tasks, steps)) for k in range(n)]
    for p in procs:
        p.start()
    total = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    return total & MASK


def cpu_mp_pool(tasks, steps, n):
    with multiprocessing.Pool(n) as pool:
        return sum(pool.starmap(kernel, [(t, steps) for t in range(tasks)])) & MASK


def _process_part(queue, k, n, tasks, steps):
    queue.put(kernel_range(k, n, tasks, steps))


def cpu_asyncio(tasks, steps, n):
    async def one(t):
        return kernel(t, steps)

    async def main():
        return sum(await asyncio.gather(*(one(t) for t in range(tasks)))) & MASK

    return asyncio.run(main())


CPU_MODELS = [
    ("serial", "serial", False, cpu_serial),
    ("threading.Thread", "thread", True, cpu_threads),
    ("ThreadPoolExecutor", "thread", True, cpu_thread_pool),
    ("multiprocessing.Process", "process", True, cpu_processes),
    ("multiprocessing.Pool", "process", True, cpu_mp_pool),
    ("ProcessPoolExecutor", "process", True, cpu_process_pool),
    ("asyncio tasks (1 thread)", "coroutine", False, cpu_asyncio),
]
if _mpi_executor() is not None:
    CPU_MODELS.insert(-1, ("MPIPoolExecutor (many machines: local ranks)", "process", True, cpu_mpi_pool))


# ---------------------------------------------------------------------------------------------
# I/O-bound models: (name, kind, run(ops, delay, workers) -> completed). Each op waits on a timer.

def wait_once(delay):
    time.sleep(delay)
    return 1


def io_serial(ops, delay, workers):
    return sum(wait_once(delay) for _ in range(ops))


def io_thread_pool(ops, delay, workers):
    with ThreadPoolExecutor(workers) as ex:
        return sum(f.result() for f in [ex.submit(wait_once, delay) for _ in range(ops)])


def io_asyncio(ops, delay, workers):
    async def one():
        await asyncio.sleep(delay)
        return 1

    async def main():
        return sum(await asyncio.gather(*(one() for _ in range(ops))))

    return asyncio.run(main())


IO_MODELS = [
    ("serial", "serial", io_serial),
    ("ThreadPoolExecutor", "thread", io_thread_pool),
    ("asyncio tasks", "coroutine", io_asyncio),
]


# ---------------------------------------------------------------------------------------------
# Memory per in-flight wait: run in a fresh interpreter each time (--probe), so memory freed by
# earlier runs cannot be reused and hide the cost.

def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")


def blocked_calls():
    """A call that reports it started, then blocks until the gate opens."""
    started, gate = threading.Semaphore(0), threading.Event()

    def blocked():
        started.release()
        gate.wait()

    return started, gate, blocked


def probe_threads(n):
    started, gate, blocked = blocked_calls()
    threads = [threading.Thread(target=blocked) for _ in range(n)]
    before = resident_bytes()
    for t in threads:
        t.start()
    for _ in range(n):
        started.acquire()
    during = resident_bytes()
    gate.set()
    for t in threads:
        t.join()
    return during - before


def probe_thread_pool(n):
    started, gate, blocked = blocked_calls()
    with ThreadPoolExecutor(n) as ex:
        before = resident_bytes()
        futures = [ex.submit(blocked) for _ in range(n)]
        for _ in range(n):
            started.acquire()
        during = resident_bytes()
        gate.set()
        for f in futures:
            f.result()
    return during - before


def probe_tasks(n):
    async def main():
        gate = asyncio.Event()
        started = 0

        async def blocked():
            nonlocal started
            started += 1
            await gate.wait()

        before = resident_bytes()
        tasks = [asyncio.create_task(blocked()) for _ in range(n)]
        while started < n:
            await asyncio.sleep(0)
        during = resident_bytes()
        gate.set()
        await asyncio.gather(*tasks)
        return during - before

    return asyncio.run(main())


MEMORY_MODELS = [
    ("threading.Thread", "thread", probe_threads),
    ("ThreadPoolExecutor worker", "thread", probe_thread_pool),
    ("asyncio task", "coroutine", probe_tasks),
]


# ---------------------------------------------------------------------------------------------
# Cost of one unit: (name, kind, run(units) -> seconds, setup excluded).

def cost_thread(units):
    start = time.perf_counter()
    for _ in range(units):
        t = threading.Thread(target=trivial, args=(0,))
        t.start()
        t.join()
    return time.perf_counter() - start


def cost_process(units):
    start = time.perf_counter()
    for _ in range(units):
        p = multiprocessing.Process(target=trivial, args=(0,))
        p.start()
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a process exited with {p.exitcode}")
    return time.perf_counter() - start


def round_trips(call, units):
    """Seconds for `units` calls of call(i) -> trivial(i), one after the other."""
    call(0)  # the worker starts lazily: not timed
    total = 0
    start = time.perf_counter()
    for i in range(units):
        total += call(i)
    seconds = time.perf_counter() - start
    if total != units * (units + 1) // 2:
        raise RuntimeError("a round trip lost its result")
    return seconds


def cost_thread_pool(units):
    with ThreadPoolExecutor(1) as ex:
        return round_trips(lambda i: ex.submit(trivial, i).result(), units)


def cost_process_pool(units):
    with ProcessPoolExecutor(1) as ex:
        return round_trips(lambda i: ex.submit(trivial, i).result(), units)


def cost_mpi_pool(units):
    with _mpi_executor()(max_workers=1) as ex:
        ex.submit(trivial, 0).result()
        return round_trips(lambda i: ex.submit(trivial, i).result(), units)


def cost_mp_pool(units):
    with multiprocessing.Pool(1) as pool:
        return round_trips(lambda i: pool.apply(trivial, (i,)), units)


def cost_task(units):
    async def one(x):
        return x + 1

    async def main():
        total = 0
        start = time.perf_counter()
        for i in range(units):
            total += await asyncio.create_task(one(i))
        seconds = time.perf_counter() - start
        if total != units * (units + 1) // 2:
            raise RuntimeError("a task lost its result")
        return seconds

    return asyncio.run(main())


def cost_loop_turn(units):
    async def main():
        start = time.perf_counter()
        for _ in range(units):
            await asyncio.sleep(0)
        return time.perf_counter() - start

    return asyncio.run(main())


# (name, kind, run, starts a process per unit: --cost-process-units instead of --cost-units)
COST_MODELS = [
    ("threading.Thread start+join", "thread", cost_thread, False),
    ("multiprocessing.Process start+join", "process", cost_process, True),
    ("asyncio task create+await", "coroutine", cost_task, False),
    ("asyncio.sleep(0) loop turn", "coroutine", cost_loop_turn, False),
    ("ThreadPoolExecutor round trip", "thread", cost_thread_pool, False),
    ("multiprocessing.Pool round trip", "process", cost_mp_pool, False),
    ("ProcessPoolExecutor round trip", "process", cost_process_pool, False),
]
if _mpi_executor() is not None:
    COST_MODELS.append(("MPIPoolExecutor round trip (many machines: local ranks)", "process", cost_mpi_pool, False))


# ---------------------------------------------------------------------------------------------

def jobs(args, sections):
    """Every measurement, in order: (label, sample() -> value, record(samples) appending its row, warm up?)."""
    out = []
    for name, kind, parallel, run in CPU_MODELS:
        for n in (args.workers if parallel else [1]):
            checksum = SameResult(f"cpu: {name} n={n}")

            def sample(run=run, n=n, checksum=checksum):
                seconds, result = time_run(lambda: run(args.cpu_tasks, args.cpu_steps, n))
                checksum.check(result)
                return seconds

            def record(seconds, name=name, kind=kind, n=n, checksum=checksum):
                sections["cpu"].append(row(name, kind, n, [figure("wall", "s", seconds)], f"{checksum.value:#018x}"))
            out.append((f"cpu: {name} n={n}", sample, record, True))
    for name, kind, run in IO_MODELS:
        ops = args.io_serial_ops if kind == "serial" else args.io_ops
        in_flight = 1 if kind == "serial" else min(args.io_workers, ops) if kind == "thread" else ops

        def sample(name=name, run=run, ops=ops):
            seconds, done = time_run(lambda: run(ops, args.io_delay_ms / 1000, args.io_workers))
            if done != ops:
                raise RuntimeError(f"io: {name} completed {done} of {ops} waits")
            return seconds

        def record(seconds, name=name, kind=kind, ops=ops, in_flight=in_flight):
            throughput = figure("throughput", "ops/s", [ops / s for s in seconds])
            sections["io"].append(row(name, kind, in_flight, [figure("wall", "s", seconds), throughput]))
        out.append((f"io: {name} ({ops} waits)", sample, record, True))
    for name, kind, _ in MEMORY_MODELS:
        n = args.memory_threads if kind == "thread" else args.memory_tasks

        def sample(name=name, n=n):
            probe = subprocess.run([sys.executable, os.path.abspath(__file__), "--probe", name, str(n)],
                                   check=True, capture_output=True, text=True)
            return int(probe.stdout) / n

        def record(per_wait, name=name, kind=kind, n=n):
            sections["memory"].append(row(name, kind, n, [figure("bytes_per_wait", "bytes", per_wait)]))
        out.append((f"memory: {name} x {n}", sample, record, False))  # fresh processes: no warm-up
    for name, kind, run, starts_processes in COST_MODELS:
        units = args.cost_process_units if starts_processes else args.cost_units

        def record(per_unit, name=name, kind=kind):
            sections["cost"].append(row(name, kind, 0, [figure("per_unit", "s", per_unit)]))
        out.append((f"cost: {name} x {units}", lambda run=run, units=units: run(units) / units, record, True))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--progress", action="store_true", help='print "# total N" and "# step LABEL" lines first')
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu-tasks", type=int, default=16)
    parser.add_argument("--cpu-steps", type=int, default=5000)
    parser.add_argument("--workers", type=lambda s: [int(n) for n in s.split(",")],
                        default=list(range(1, (os.cpu_count() or 1) + 1)))
    parser.add_argument("--io-ops", type=int, default=200)
    parser.add_argument("--io-serial-ops", type=int, default=10)
    parser.add_argument("--io-workers", type=int, default=50)
    parser.add_argument("--io-delay-ms", type=float, default=5)
    parser.add_argument("--memory-threads", type=int, default=200)
    parser.add_argument("--memory-tasks", type=int, default=2000)
    parser.add_argument("--cost-units", type=int, default=500)
    parser.add_argument("--cost-process-units", type=int, default=5)
    parser.add_argument("--probe", nargs=2, metavar=("MODEL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.probe:  # one memory measurement, in this fresh interpreter
        name, n = args.probe[0], int(args.probe[1])
        print(next(run for model, _, run in MEMORY_MODELS if model == name)(n))
        return

    sections = {"cpu": [], "io": [], "memory": [], "cost": []}
    todo = jobs(args, sections)
    rounds = args.repeat + 1  # round 0 is the warm-up
    if args.progress:
        print(f"# total {sum(rounds if warm_up else rounds - 1 for *_, warm_up in todo)}", flush=True)
    samples = [[] for _ in todo]
    for r in range(rounds):
        for (label, sample, _, warm_up), values in zip(todo, samples):
            if r == 0 and not warm_up:
                continue
            if args.progress:
                print(f"# step {'warm-up' if r == 0 else f'run {r}/{rounds - 1}'}: {label}", flush=True)
            value = sample()
            if r > 0:
                values.append(value)
    for (_, _, record, _), values in zip(todo, samples):
        record(values)
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    result = {
        "python": {"ran": True, "status": "ran", "executable": sys.executable,
                   "version": sys.version.split()[0] + " " + sys.implementation.name, "gil": gil},
        "sections": [{"id": k, "title": "", "text": "", "workload": "", "rows": v} for k, v in sections.items()],
    }
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
