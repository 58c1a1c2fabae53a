#!/usr/bin/env python3
"""Checks for `nogil tour` (run by CTest; no timing thresholds: the machine is noisy).

    check_tour.py cli NOGIL VERSION
        --help, tour --help and --version succeed and say what they should; bad input fails.
    check_tour.py report REPORT.json [--svg CHART.svg] --python expected|absent
        The JSON written by `nogil tour --json`: every section present, every CPU model's checksum
        equal to its runtime's serial one (and Python's equal to this script's own kernel), coroutine
        memory per wait below thread memory per wait, every figure positive and finite, the Python
        side present or absent as expected; the SVG chart well-formed.
"""
import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

SECTIONS = ["cpu", "io", "memory", "cost"]
UNITS = {"s", "x", "ops/s", "bytes"}
KINDS = {"serial", "thread", "process", "coroutine"}
MASK = (1 << 64) - 1
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def check_cli(nogil, version):
    r = run([nogil, "--help"])
    check(r.returncode == 0, f"--help exited with {r.returncode}")
    check("tour" in r.stdout, "--help does not list the tour subcommand")
    r = run([nogil, "tour", "--help"])
    check(r.returncode == 0, f"tour --help exited with {r.returncode}")
    for flag in ["--quick", "--no-python", "--json", "--chart", "--repeat", "--workers", "--io-delay-ms"]:
        check(flag in r.stdout, f"tour --help does not mention {flag}")
    check("_probe-memory" not in r.stdout, "tour --help shows the internal _probe-memory")
    r = run([nogil, "--version"])
    check(r.returncode == 0, f"--version exited with {r.returncode}")
    check(r.stdout.strip() == f"nogil {version}", f"--version printed {r.stdout.strip()!r}, expected 'nogil {version}'")
    r = run([nogil])
    check(r.returncode != 0, "no subcommand should fail")
    r = run([nogil, "tour", "--no-such-flag"])
    check(r.returncode != 0, "an unknown flag should fail")
    r = run([nogil, "tour", "--no-python", "--repeat", "0"])
    check(r.returncode != 0 and "--repeat" in r.stderr, f"--repeat 0 should fail naming --repeat: {r.stderr!r}")
    # Out of range, non-finite, unwritable: refused at once, naming the flag (issue 14).
    for argv, flag in [(["--repeat", "2147483647"], "--repeat"), (["--io-delay-ms", "inf"], "--io-delay-ms"),
                       (["--io-delay-ms", "nan"], "--io-delay-ms"), (["--io-delay-ms", "-1"], "--io-delay-ms"),
                       (["--workers", "1,99999"], "--workers"), (["--cpu-steps", "1e300"], "--cpu-steps"),
                       (["--json", "/proc/nogil-cannot-write.json"], "--json"),
                       (["--chart", "/proc/nogil-cannot-write.svg"], "--chart"), (["--json", "/"], "--json")]:
        r = subprocess.run([nogil, "tour", "--no-python"] + argv, capture_output=True, text=True, timeout=20)
        check(r.returncode != 0 and flag in r.stderr and "Measured" not in r.stdout,
              f"tour {' '.join(argv)} should fail at once naming {flag}: {r.returncode} {r.stderr!r}")
    r = run([nogil, "_probe-memory", "no such model", "10"])
    check(r.returncode != 0, "a memory probe of an unknown model should fail")


def load_python_side():
    """tour.py, the Python side shipped with the tool: its kernel is the reference."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python", "tour.py")
    spec = importlib.util.spec_from_file_location("nogil_tour_python", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_figure(where, f):
    check(f.get("unit") in UNITS, f"{where}: unknown unit {f.get('unit')!r}")
    values = [f.get(k) for k in ("median", "min", "max")]
    if not check(all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values),
                 f"{where}: figures must be positive and finite, got {values}"):
        return
    check(f["min"] <= f["median"] <= f["max"], f"{where}: min <= median <= max does not hold: {values}")
    check(f.get("samples", 0) >= 1, f"{where}: no samples")


def check_report(path, svg, python):
    with open(path) as fh:
        report = json.load(fh)
    check(report.get("format") == "nogil-tour/1", f"format is {report.get('format')!r}")
    machine = report["machine"]
    check(machine["cores"] > 0, "machine.cores must be > 0")
    for key in ("cpu_model", "kernel", "compiler"):
        check(machine[key], f"machine.{key} is empty")
    sizes = report["sizes"]
    sections = {s["id"]: s for s in report["sections"]}
    check(list(sections) == SECTIONS, f"sections are {list(sections)}, expected {SECTIONS}")

    for sid, section in sections.items():
        check(section["title"] and section["text"] and section["workload"], f"{sid}: title/text/workload missing")
        check(any(r["runtime"] == "nogil" for r in section["rows"]), f"{sid}: no nogil rows")
        for r in section["rows"]:
            where = f"{sid}/{r['runtime']}/{r['model']}/n={r['workers']}"
            check(r["runtime"] in ("nogil", "python"), f"{where}: unknown runtime")
            check(r["kind"] in KINDS, f"{where}: unknown kind {r['kind']!r}")
            check(r["figures"], f"{where}: no figures")
            for f in r["figures"]:
                check_figure(f"{where}/{f['name']}", f)

    # The CPU section: serial and a thread pool at every n; every checksum equal to serial's.
    cpu = sections.get("cpu", {"rows": []})["rows"]
    nogil_pool = sorted(r["workers"] for r in cpu if r["runtime"] == "nogil" and r["model"] == "ThreadPoolExecutor")
    check(nogil_pool == sorted(sizes["workers"]), f"nogil ThreadPoolExecutor ran for n={nogil_pool}, not {sizes['workers']}")
    for runtime in ("nogil", "python"):
        rows = [r for r in cpu if r["runtime"] == runtime]
        serial = [r for r in rows if r["kind"] == "serial"]
        if not rows:
            continue
        if not check(len(serial) == 1, f"cpu/{runtime}: {len(serial)} serial rows"):
            continue
        for r in rows:
            check(r["checksum"] == serial[0]["checksum"],
                  f"cpu/{runtime}/{r['model']}/n={r['workers']}: checksum {r['checksum']} != serial {serial[0]['checksum']}")
            check(r.get("speedup") is None and any(f["name"] == "speedup" for f in r["figures"]),
                  f"cpu/{runtime}/{r['model']}: no speedup figure")
        # The same kernel recomputed here: always for Python; for nogil when the run is small
        # enough (a test runs it so), which shows both languages compute the same thing.
        steps = sizes["py_cpu_steps"] if runtime == "python" else sizes["cpu_steps"]
        if steps * sizes["cpu_tasks"] <= 2_000_000:
            kernel = load_python_side().kernel
            expected = sum(kernel(t, steps) for t in range(sizes["cpu_tasks"])) & MASK
            check(serial[0]["checksum"] == f"{expected:#018x}",
                  f"cpu/{runtime}: checksum {serial[0]['checksum']} is not the kernel's {expected:#018x}")

    # Memory: per runtime, a coroutine waits in less memory than a thread (when both exist).
    for runtime in ("nogil", "python"):
        rows = [r for r in sections.get("memory", {"rows": []})["rows"] if r["runtime"] == runtime]
        per = {k: [next(f["median"] for f in r["figures"] if f["name"] == "bytes_per_wait") for r in rows if r["kind"] == k]
               for k in ("thread", "coroutine")}
        if per["thread"] and per["coroutine"]:
            check(max(per["coroutine"]) < min(per["thread"]),
                  f"memory/{runtime}: coroutine {per['coroutine']} bytes per wait not below thread {per['thread']}")

    # The Python side.
    python_rows = [r for s in report["sections"] for r in s["rows"] if r["runtime"] == "python"]
    if python == "expected":
        check(report["python"]["ran"], f"the Python side did not run: {report['python']['status']}")
        for sid in SECTIONS:
            check(any(r["runtime"] == "python" for r in sections.get(sid, {"rows": []})["rows"]), f"{sid}: no python rows")
    else:
        check(not report["python"]["ran"], "the Python side ran despite --no-python")
        check(not python_rows, "python rows despite --no-python")

    if svg:
        root = ET.parse(svg).getroot()
        check(root.tag.endswith("svg"), f"{svg}: root element is {root.tag}")
        rects = root.findall(".//{http://www.w3.org/2000/svg}rect")
        bars = sum(len(r["figures"]) > 0 for s in report["sections"] for r in s["rows"])
        check(len(rects) >= 4, f"{svg}: only {len(rects)} rectangles for {bars} rows")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cli = sub.add_parser("cli")
    cli.add_argument("nogil")
    cli.add_argument("version")
    rep = sub.add_parser("report")
    rep.add_argument("json")
    rep.add_argument("--svg")
    rep.add_argument("--python", choices=["expected", "absent"], required=True)
    args = parser.parse_args()
    if args.command == "cli":
        check_cli(args.nogil, args.version)
    else:
        check_report(args.json, args.svg, args.python)
    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
