#!/usr/bin/env python3
"""Checks for `nogil ps` and `nogil pstree` against real processes (run by CTest).

    check_inspect.py NOGIL ECHO_SERVER CALL_GRAPH_EXAMPLE ECHO_SOURCE AWAIT_LINES(1|0)

Each case starts the processes it reads and ends them, by PID. Nothing waits on time: a
target says "ready" (or writes its port file) once it is in the state to inspect, and the
echo clients are inspected once the server has their connection tasks.
  echo        examples/echo_server with two clients stuck mid-line: each handler task is shown
              suspended in echo() at the line of its `co_await reader.read(...)` (read from the
              example's source; built without NOGIL_AWAIT_LINES, at the line of echo()'s first or
              last brace), under the server's run_client frame; ps has a row per task,
              and --format csv the same rows.
  deadlock    two tasks awaiting each other: pstree exits 1 with the cycle and both names.
  blocked     the loop's thread blocked in a synchronous read(): ps and pstree still show its
              pending tasks.
  busy        two loops on two threads churning tasks: every read gives a coherent snapshot
              (each row's tid is one of the two loops' threads), several times in a row.
  pool        a thread pool whose two workers are stuck in calls, four calls queued: ps lists
              the pool, each worker's thread and call (a function by its name, a lambda by its
              type) and the queued calls in order; the CSV adds a second table, the executors'.
  process pool  a process pool whose worker process is stuck in a call, four calls queued: ps
              names the worker's PID (the one the example prints), its call and the queued calls
              (a captureless lambda as a thread pool names it); the CSV too.
  mp pool     a multiprocessing::Pool whose worker is stuck in a call, three apply_async calls
              and a map of two chunks queued: ps names the worker's PID, its call, the queued
              calls in order (map's by its function and chunk), in the table and the CSV; once
              the example closed the pool, ps says "closed" and the calls are still queued.
  mp dead     a multiprocessing::Pool whose manager is held up in a callback that killed the
              worker: ps shows that worker dead (gone, and the manager has not noticed).
  pid namespace  the two multiprocessing pool examples in a PID namespace of their own (unshare
              --pid --mount-proc, when this machine allows it; else said and not run): their
              workers' pids are the namespace's, so whether a worker lives is looked up in the
              target's /proc: the stuck worker is running, the killed one dead.
  errors      PID 0, a non-number, a PID that is not running (a child started and reaped), a
              process without nogil (sleep), and, when run as root, a process read without
              permission (setpriv to nobody): each a clear message and status 1 (CLI misuse: 106).
"""
import csv
import io
import os
import re
import socket
import subprocess
import sys

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, **kw)


def start_ready(argv, stdin=None):
    """Starts argv and returns it once it printed 'ready'."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=stdin, text=True)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        p.wait()
        raise SystemExit(f"{argv} did not get ready: {line!r}")
    return p


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait()


def echo_case(nogil, server, source, await_lines):
    lines = open(source).read().splitlines()
    read_line = next(i + 1 for i, l in enumerate(lines) if "co_await reader.read(" in l)
    first = next(i + 1 for i, l in enumerate(lines) if l.startswith("asyncio::Coroutine<> echo("))
    last = next(i + 1 for i, l in enumerate(lines) if i >= first and l == "}")
    expected = {read_line} if await_lines else {first, last}
    work = f"/tmp/nogil_check_inspect_{os.getpid()}"
    os.makedirs(work, exist_ok=True)
    port_file = os.path.join(work, "port")
    p = subprocess.Popen([server, "--serve", "127.0.0.1", "0", "--port-file", port_file],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients = []
    try:
        # The port file appears once the server listens; poll the file, not the clock.
        for _ in range(100000):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            if p.poll() is not None:
                raise SystemExit("echo server exited")
            os.sched_yield()
        port = int(open(port_file).read())
        for text in (b"half a li", b"another unfinished lin"):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(text)  # no newline, and the socket stays open: a client stuck mid-line
            clients.append(c)
        # Wait until both handler tasks exist (the server accepts asynchronously).
        for _ in range(1000):
            tree = run(nogil, "pstree", str(p.pid))
            if sum(tree.stdout.count(f"echo_server.cpp:{n}\n") for n in expected) >= 2:
                break
        check(tree.returncode == 0, f"pstree exit {tree.returncode}: {tree.stderr}")
        handler = re.findall(r"(\S*run_client) \S+:\d+\n\s*\S+\s+echo (\S+):(\d+)", tree.stdout)
        check(len(handler) == 2, f"two handler tasks suspended in echo():\n{tree.stdout}")
        for _, file, line in handler:
            check(file.endswith("examples/echo_server.cpp") and int(line) in expected,
                  f"echo() suspended at echo_server.cpp:{sorted(expected)}, got {file}:{line}")
        check("(T) Task-" in tree.stdout, "tasks are labelled (T) name")
        table = run(nogil, "ps", str(p.pid))
        rows = [l for l in table.stdout.splitlines()[2:] if l.strip()]
        check(table.stdout.startswith("tid        task id              task name"), "ps header is Python's")
        check(sum("echo -> nogil::asyncio::detail::ServerState::run_client" in r for r in rows) == 2,
              f"ps shows both handlers' stacks:\n{table.stdout}")
        data = run(nogil, "ps", str(p.pid), "--format", "csv")
        parsed = list(csv.reader(io.StringIO(data.stdout)))
        check(parsed[0] == ["tid", "task id", "task name", "coroutine stack", "awaiter chain", "awaiter name",
                            "awaiter id"], f"csv header: {parsed[0]}")
        check(len(parsed) - 1 == len(rows), f"csv has the table's rows ({len(parsed) - 1} vs {len(rows)})")
        check(all(r[0] == str(p.pid) for r in parsed[1:]), "the loop runs on the main thread: tid == pid")
    finally:
        for c in clients:
            c.close()
        stop(p)
        if os.path.exists(port_file):
            os.remove(port_file)
        os.rmdir(work)


def deadlock_case(nogil, example):
    p = start_ready([example, "--deadlock"])
    try:
        tree = run(nogil, "pstree", str(p.pid))
        check(tree.returncode == 1, f"pstree of a cycle exits 1, got {tree.returncode}")
        check(tree.stderr.startswith("ERROR: await-graph contains cycles"), f"cycle error: {tree.stderr!r}")
        cycle = [l for l in tree.stderr.splitlines() if l.startswith("cycle: ")]
        check(len(cycle) == 1 and "philosopher A" in cycle[0] and "philosopher B" in cycle[0],
              f"the cycle names both tasks: {cycle}")
        parts = cycle[0][len("cycle: "):].split(" \u2192 ") if cycle else []
        check(len(parts) == 3 and parts[0] == parts[2], f"a cycle closes on its first task: {parts}")
        table = run(nogil, "ps", str(p.pid))
        check(table.returncode == 0 and "philosopher A" in table.stdout, "ps still lists a deadlocked program")
    finally:
        stop(p)


def blocked_case(nogil, example):
    p = start_ready([example, "--blocked"], stdin=subprocess.PIPE)
    try:
        tree = run(nogil, "pstree", str(p.pid))
        check(tree.returncode == 0, f"pstree of a blocked loop: {tree.returncode} {tree.stderr}")
        check("(T) worker 1" in tree.stdout and "(T) worker 2" in tree.stdout and "idle_worker" in tree.stdout,
              f"the blocked loop's tasks:\n{tree.stdout}")
    finally:
        p.stdin.close()  # ends the synchronous read: the program finishes by itself
        check(p.wait(timeout=60) == 0, "the blocked example exits 0 once stdin closes")


def busy_case(nogil, example):
    p = start_ready([example, "--busy"])
    try:
        tids = set(os.listdir(f"/proc/{p.pid}/task"))
        for _ in range(20):
            data = run(nogil, "ps", str(p.pid), "--format", "csv")
            check(data.returncode == 0, f"ps of a busy process: {data.returncode} {data.stderr}")
            for row in list(csv.reader(io.StringIO(data.stdout)))[1:]:
                check(row[0] in tids or row[0] == "0", f"row of an unknown thread: {row}")
    finally:
        stop(p)


def pool_case(nogil, example):
    p = start_ready([example, "--pool"], stdin=subprocess.PIPE)
    try:
        table = run(nogil, "ps", str(p.pid))
        check(table.returncode == 0, f"ps of a stuck pool: {table.returncode} {table.stderr}")
        out = table.stdout
        check(re.search(r"^thread pool 'downloads' \(0x[0-9a-f]+\): 2 of 2 workers started, 4 calls queued$", out, re.M),
              f"the pool's line:\n{out}")
        workers = re.findall(r"^  (\d+)\s+(\d+)\s+(running|idle)\s+(.*)$", out, re.M)
        tids = set(os.listdir(f"/proc/{p.pid}/task"))
        check(len(workers) == 2 and all(w[1] in tids and w[2] == "running" for w in workers),
              f"two running workers on threads of the process:\n{out}")
        calls = sorted(w[3] for w in workers)
        check(calls == ["(anonymous namespace)::download((anonymous namespace)::Gate*)",
                        "(anonymous namespace)::stuck_pool()::<lambda>"], f"the workers' calls: {calls}")
        check(re.search(r"^  queued\s+\(anonymous namespace\)::thumbnail\(int\) \u00d73\n\s+\(anonymous namespace\)::stuck_pool\(\)::<lambda>$",
                        out, re.M), f"the queued calls in order:\n{out}")
        data = run(nogil, "ps", str(p.pid), "--format", "csv")
        tasks, _, pools = data.stdout.partition("\n\n")
        check(tasks.strip() == "tid,task id,task name,coroutine stack,awaiter chain,awaiter name,awaiter id",
              f"the CSV starts with Python's table (no tasks here): {data.stdout!r}")
        rows = list(csv.DictReader(io.StringIO(pools)))
        check([r["state"] for r in rows] == ["running", "running", "queued", "queued", "queued", "queued"] and
              all(r["kind"] == "thread pool" and r["name"] == "downloads" and r["queued"] == "4" and r["pid"] == ""
                  and r["status"] == "open" for r in rows) and all(r["tid"] in tids for r in rows[:2]),
              f"the CSV's executors table:\n{pools}")
    finally:
        p.stdin.close()  # opens the gate: every call runs and the program exits by itself
        check(p.wait(timeout=60) == 0, "the pool example exits 0 once stdin closes (every call ran)")


def process_pool_case(nogil, example):
    p = start_ready([example, "--process-pool"], stdin=subprocess.PIPE)
    try:
        worker = p.stdout.readline().split()
        check(len(worker) == 2 and worker[0] == "worker", f"the example names its worker: {worker}")
        pid = worker[1] if len(worker) == 2 else "?"
        table = run(nogil, "ps", str(p.pid))
        check(table.returncode == 0, f"ps of a stuck process pool: {table.returncode} {table.stderr}")
        out = table.stdout
        check(re.search(r"^process pool \(0x[0-9a-f]+\): 1 of 1 workers started, 4 calls queued$", out, re.M),
              f"the pool's line:\n{out}")
        check(re.search(r"^  worker\s+pid\s+state\s+call$", out, re.M), f"the workers' header names the pid:\n{out}")
        workers = re.findall(r"^  (\d+)\s+(\d+)\s+(running|idle|dead)\s+(.*)$", out, re.M)
        check(workers == [("0", pid, "running", "(anonymous namespace)::render(nogil::multiprocessing::Connection)")],
              f"the worker process {pid} runs render():\n{out}")
        check(re.search(r"^  queued\s+\(anonymous namespace\)::checksum\(int\) \u00d73\n"
                        r"\s+\(anonymous namespace\)::stuck_process_pool\(\)::<lambda>$", out, re.M),
              f"the queued calls in order (a lambda by the function it is written in):\n{out}")
        data = run(nogil, "ps", str(p.pid), "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(data.stdout.partition("\n\n")[2])))
        check(len(rows) == 5 and rows[0]["pid"] == pid and rows[0]["state"] == "running" and rows[0]["tid"] == ""
              and rows[0]["call"].endswith("render(nogil::multiprocessing::Connection)")
              and [r["state"] for r in rows[1:]] == ["queued"] * 4
              and all(r["kind"] == "process pool" and r["queued"] == "4" for r in rows),
              f"the CSV's executors table:\n{data.stdout}")
    finally:
        p.stdin.close()  # the example lets render() return: every call runs and it exits by itself
        check(p.wait(timeout=60) == 0, "the process pool example exits 0 once stdin closes (every call ran)")


def mp_pool_case(nogil, example):
    p = start_ready([example, "--mp-pool"], stdin=subprocess.PIPE)
    try:
        worker = p.stdout.readline().split()
        check(len(worker) == 2 and worker[0] == "worker", f"the example names its worker: {worker}")
        pid = worker[1] if len(worker) == 2 else "?"
        table = run(nogil, "ps", str(p.pid))
        check(table.returncode == 0, f"ps of a stuck multiprocessing pool: {table.returncode} {table.stderr}")
        out = table.stdout
        check(re.search(r"^multiprocessing pool \(0x[0-9a-f]+\): 1 of 1 workers started, 5 calls queued$", out, re.M),
              f"the pool's line:\n{out}")
        workers = re.findall(r"^  (\d+)\s+(\d+)\s+(running|idle|dead)\s+(.*)$", out, re.M)
        check(workers == [("0", pid, "running", "(anonymous namespace)::render(nogil::multiprocessing::Connection)")],
              f"the worker process {pid} runs render():\n{out}")
        check(re.search(r"^  queued\s+\(anonymous namespace\)::checksum\(int\) \u00d73\n"
                        r"\s+\(anonymous namespace\)::checksum\(int\), chunk 1 of 2\n"
                        r"\s+\(anonymous namespace\)::checksum\(int\), chunk 2 of 2$", out, re.M),
              f"the queued calls in order (map's chunks by the mapped function):\n{out}")
        data = run(nogil, "ps", str(p.pid), "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(data.stdout.partition("\n\n")[2])))
        check(len(rows) == 6 and rows[0]["pid"] == pid and rows[0]["state"] == "running"
              and rows[0]["call"].endswith("render(nogil::multiprocessing::Connection)")
              and [r["state"] for r in rows[1:]] == ["queued"] * 5
              and rows[5]["call"] == "(anonymous namespace)::checksum(int), chunk 2 of 2"
              and all(r["kind"] == "multiprocessing pool" and r["queued"] == "5" and r["status"] == "open" for r in rows),
              f"the CSV's executors table:\n{data.stdout}")
        p.stdin.write("close\n")
        p.stdin.flush()
        check(p.stdout.readline().strip() == "closed", "the example closed its pool")
        out = run(nogil, "ps", str(p.pid)).stdout
        check(re.search(r"^multiprocessing pool \(0x[0-9a-f]+\): 1 of 1 workers started, 5 calls queued, closed$", out, re.M),
              f"a closed pool says so, its calls still queued:\n{out}")
        data = run(nogil, "ps", str(p.pid), "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(data.stdout.partition("\n\n")[2])))
        check(rows and all(r["status"] == "closed" for r in rows), f"the CSV's status of a closed pool:\n{data.stdout}")
    finally:
        p.stdin.close()  # the example lets render() return: every call runs and it exits by itself
        check(p.wait(timeout=60) == 0, "the multiprocessing pool example exits 0 once stdin closes (every call ran)")


def mp_pool_dead_case(nogil, example):
    p = start_ready([example, "--mp-pool-dead"], stdin=subprocess.PIPE)
    try:
        worker = p.stdout.readline().split()
        pid = worker[1] if len(worker) == 2 else "?"
        out = run(nogil, "ps", str(p.pid)).stdout
        workers = re.findall(r"^  (\d+)\s+(\d+)\s+(running|idle|dead)\s*(.*)$", out, re.M)
        check(workers == [("0", pid, "dead", "")], f"the killed worker {pid} is dead:\n{out}")
    finally:
        p.stdin.close()  # the callback returns: the manager reaps the worker and the example exits
        check(p.wait(timeout=60) == 0, "the dead-worker example exits 0 once stdin closes")


def pid_namespace_case(nogil, example):
    unshare = ["unshare", "--pid", "--fork", "--mount-proc"]
    try:
        probe = run(*unshare, "true")
    except FileNotFoundError:
        probe = None
    if probe is None or probe.returncode != 0:
        print("note: no PID namespace can be made here (unshare --pid --mount-proc failed): the case is not run")
        return
    for mode, state in (("--mp-pool", "running"), ("--mp-pool-dead", "dead")):
        p = start_ready(unshare + [example, mode], stdin=subprocess.PIPE)
        try:
            worker = p.stdout.readline().split()
            pid = worker[1] if len(worker) == 2 else "?"
            with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                target = f.read().split()[0]  # the example: PID 1 in its namespace
            out = run(nogil, "ps", target).stdout
            workers = re.findall(r"^  (\d+)\s+(\d+)\s+(running|idle|dead)\s*(.*)$", out, re.M)
            check(len(workers) == 1 and workers[0][1] == pid and workers[0][2] == state,
                  f"{mode} in a PID namespace: worker {pid} (the namespace's pid) is {state}:\n{out}")
        finally:
            p.stdin.close()
            check(p.wait(timeout=60) == 0, f"{mode} in a PID namespace exits 0 once stdin closes")


def errors_case(nogil):
    r = run(nogil, "--help")
    check(r.returncode == 0 and "pstree" in r.stdout and re.search(r"^\s+ps\s", r.stdout, re.M),
          f"--help lists ps and pstree:\n{r.stdout}")
    r = run(nogil, "ps", "--help")
    check(r.returncode == 0 and "--format" in r.stdout, "ps --help mentions --format")
    for pid in ("0", "-3", "abc"):
        r = run(nogil, "ps", pid)
        check(r.returncode != 0 and "pid" in (r.stderr + r.stdout).lower(), f"ps {pid}: {r.returncode} {r.stderr}")
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its PID names no process now
    r = run(nogil, "pstree", str(gone.pid))
    check(r.returncode == 1 and f"no process with PID {gone.pid}" in r.stderr, f"dead PID: {r.stderr!r}")
    other = subprocess.Popen(["sleep", "60"])
    try:
        r = run(nogil, "ps", str(other.pid))
        check(r.returncode == 1 and "does not use nogil" in r.stderr, f"not a nogil program: {r.stderr!r}")
        if os.geteuid() == 0:
            r = run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", nogil, "ps", str(os.getpid()))
            check(r.returncode == 1 and "permission denied" in r.stderr and "CAP_SYS_PTRACE".lower() in
                  r.stderr.lower().replace("cap_sys_ptrace+ep", "cap_sys_ptrace"),
                  f"no permission: {r.stderr!r}")
        else:
            print("note: not root, the permission case needs a user to drop to: not run")
    finally:
        stop(other)


def main():
    nogil, server, example, source, await_lines = sys.argv[1:6]
    echo_case(nogil, server, source, await_lines in ("1", "ON", "TRUE"))
    deadlock_case(nogil, example)
    blocked_case(nogil, example)
    busy_case(nogil, example)
    pool_case(nogil, example)
    process_pool_case(nogil, example)
    mp_pool_case(nogil, example)
    mp_pool_dead_case(nogil, example)
    pid_namespace_case(nogil, example)
    errors_case(nogil)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all inspect checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
