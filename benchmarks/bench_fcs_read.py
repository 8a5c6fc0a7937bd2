"""Whole-process benchmark: read the 2M-event MRD tube into an array.

Generates (once, cached in ``benchmarks/work/``) the float32 and the ``--int16`` files with
``../shared/bench/gen_synthetic_fcs.py`` and times, for each file, a fresh Python process per run
(imports included) that reads the events into a numpy array with:

* the numpy floor: a script that already knows the DATA offset, dtype and $PnR mask and calls
  ``np.fromfile`` (plus the mask for the int16 file);
* Trephine: ``read_fcs(path).raw``;
* FlowIO 1.4: ``FlowData(path).as_array(preprocess=False)``;
* FlowKit 1.3.2: ``Sample(path).get_events(source="raw")``.

Wall time is the median of ``--runs`` runs; peak RSS is the child's ``ru_maxrss`` (resource
usage of children, measured per run by waiting on each child alone).

Usage: .venv/bin/python benchmarks/bench_fcs_read.py [--runs 7] [--skip-peers]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "work"
SHARED = Path(os.environ.get("TREPHINE_SHARED", ROOT.parent / "shared"))
GEN = SHARED / "bench" / "gen_synthetic_fcs.py"

FILES = {
    "float32": ("mrd_float32.fcs", []),
    "int16": ("mrd_int16.fcs", ["--int16"]),
}

# The floor knows the layout in advance (DATA offset, dtype, event count and the $PnR mask are
# passed on its command line): it does nothing but np.fromfile, plus the mask for 10-bit data.
FLOOR = """
import sys, numpy as np
p, kind, begin, events, par = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
dt = np.dtype("<f4") if kind == "float32" else np.dtype("<u2")
a = np.fromfile(p, dtype=dt, count=events * par, offset=begin).reshape(events, par)
if kind == "int16":
    a &= np.uint16(1023)
print(a.shape, float(a[:, 0].sum()))
"""


def layout(path: Path) -> list[str]:
    """$BEGINDATA, $TOT and $PAR of a generated file (read here, outside the timed process)."""
    head = path.read_bytes()[:100_000]
    text = head[int(head[10:18]) : int(head[18:26]) + 1].decode("latin-1")
    delim = text[0]
    tokens = text[1:].split(delim)
    kw = {tokens[i].upper(): tokens[i + 1] for i in range(0, len(tokens) - 1, 2)}
    return [kw["$BEGINDATA"].strip(), kw["$TOT"].strip(), kw["$PAR"].strip()]


TREPHINE = """
import sys
from trephine.io.fcs import read_fcs
a = read_fcs(sys.argv[1]).raw
print(a.shape, float(a[:, 0].sum()))
"""

FLOWIO = """
import sys, flowio
a = flowio.FlowData(sys.argv[1]).as_array(preprocess=False)
print(a.shape, float(a[:, 0].sum()))
"""

FLOWKIT = """
import sys, flowkit
a = flowkit.Sample(sys.argv[1]).get_events(source="raw")
print(a.shape, float(a[:, 0].sum()))
"""


def ensure_files() -> dict[str, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for kind, (name, extra) in FILES.items():
        path = WORK / name
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr)
            tmp = path.with_suffix(".tmp.fcs")
            subprocess.run([sys.executable, str(GEN), str(tmp), *extra], check=True)
            for suffix in (".labels.npy", ".truth.json"):
                Path(str(tmp) + suffix).rename(str(path) + suffix)
            tmp.rename(path)
        out[kind] = path
    return out


# Children run like an installed package: with compiled bytecode. This machine sets
# PYTHONDONTWRITEBYTECODE, which would make every child recompile Trephine's sources (site-packages
# of the peers are precompiled), so bytecode goes to a private cache under benchmarks/work/.
CHILD_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONWARNINGS": "ignore",
    "PYTHONPYCACHEPREFIX": str(WORK / "pycache"),
}


def run_once(code: str, args: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS MiB and stdout of one fresh interpreter."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=CHILD_ENV,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{args}: exit {proc.returncode}: {stderr.strip()[-400:]}")
    # Linux reports ru_maxrss in KiB.
    return wall, usage.ru_maxrss / 1024, stdout.strip()


def same_values(out: str, ref: str) -> bool:
    """Same shape and a column-0 sum equal to 1e-6 (float32 vs float64 accumulation)."""
    shape, _, total = out.rpartition(")")
    ref_shape, _, ref_total = ref.rpartition(")")
    return shape == ref_shape and abs(float(total) - float(ref_total)) <= 1e-6 * abs(
        float(ref_total)
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--skip-peers", action="store_true", help="only the floor and Trephine")
    opts = ap.parse_args()
    files = ensure_files()
    readers = {"numpy floor": FLOOR, "Trephine": TREPHINE}
    if not opts.skip_peers:
        readers |= {"FlowIO 1.4": FLOWIO, "FlowKit 1.3.2": FLOWKIT}
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {opts.runs} runs")
    print()
    print("| file | reader | wall s | x floor | peak RSS MiB | check |")
    print("|---|---|---|---|---|---|")
    verdict = True
    for kind, path in files.items():
        argv = {
            label: [str(path), kind, *layout(path)] if code is FLOOR else [str(path)]
            for label, code in readers.items()
        }
        walls: dict[str, list[float]] = {label: [] for label in readers}
        rss: dict[str, float] = {label: 0.0 for label in readers}
        outs: dict[str, str] = {}
        failed: dict[str, str] = {}
        # One untimed warm-up per reader (page cache, bytecode), then the runs interleaved so
        # that load from other processes on the machine hits every reader alike.
        for run in range(opts.runs + 1):
            for label, code in readers.items():
                if label in failed:
                    continue
                try:
                    wall, peak, out = run_once(code, argv[label])
                except RuntimeError as exc:
                    failed[label] = str(exc)
                    continue
                if run:
                    walls[label].append(wall)
                    rss[label] = max(rss[label], peak)
                outs[label] = out
        floor = statistics.median(walls["numpy floor"])
        for label in readers:
            if label in failed:
                print(f"| {kind} | {label} | failed | | | {failed[label][:120]} |")
                continue
            wall = statistics.median(walls[label])
            ok = same_values(outs[label], outs["numpy floor"])
            check = "same values" if ok else f"differs: {outs[label]}"
            ratio = wall / floor
            print(f"| {kind} | {label} | {wall:.3f} | {ratio:.2f} | {rss[label]:.0f} | {check} |")
            if label == "Trephine" and (ratio > 1.5 or not ok):
                verdict = False
    print()
    verdict_text = "PASS" if verdict else "FAIL"
    print(f"acceptance (Trephine within 1.5x the floor, same values): {verdict_text}")
    return 0 if verdict else 1


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
