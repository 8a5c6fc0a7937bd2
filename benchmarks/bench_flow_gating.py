"""Whole-process benchmark: gating the 2M-event MRD tube, and compensate + logicle.

Workload (``../shared/bench``): the seed-1 float32 tube made by ``gen_synthetic_fcs.py``
(cached in ``benchmarks/work/mrd_float32.fcs``, the same file ``bench_fcs_read.py`` uses) and
the 5-level hierarchy ``mrd-hierarchy.gatingml.xml``. Each contender runs in a fresh Python
process per run (imports included); wall time is the median of ``--runs`` runs, peak RSS the
largest ``ru_maxrss`` of the child (``os.wait4`` on each child alone).

Tasks:

1. **hierarchy** - counts of the five gates. Trephine as the CLI (``trephine flow gate --json``)
   and as ``python -c`` with the library; FlowKit 1.3.2 (``Session.analyze_samples``); a numpy
   floor that knows the file layout, the gates and the matrix in advance (``np.fromfile``, a
   precomputed inverse, FlowUtils' C logicle, crossing-number polygons).
2. **comp+logicle** - compensate the 9 fluorescence channels with the file's spillover and apply
   the logicle (T=262144, W=0.5, M=4.5, A=0) to all 9: Trephine (``dimension_values``), FlowKit
   (``Sample.apply_compensation`` + ``apply_transform``, ``get_events("xform")``), numpy floor.

Every contender prints its counts (task 1) or a checksum (task 2); task 1 fails unless all
counts equal the expected ones.

Usage: .venv/bin/python benchmarks/bench_flow_gating.py [--runs 7] [--skip-flowkit]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "work"
SHARED = Path(os.environ.get("TREPHINE_SHARED", ROOT.parent / "shared"))
GEN = SHARED / "bench" / "gen_synthetic_fcs.py"
XML = SHARED / "bench" / "mrd-hierarchy.gatingml.xml"
TUBE = WORK / "mrd_float32.fcs"
TREPHINE_CLI = Path(sys.executable).with_name("trephine")

EXPECTED = {
    "Cells": 1867784,
    "Singlets": 1809770,
    "CD45pos": 1555948,
    "Blasts": 31405,
    "CD34pos_CD117pos": 22821,
}

TREPHINE_LIB = """
import json, sys
from trephine.io.fcs import read_fcs
from trephine.io.gatingml import read_gatingml
from trephine.analysis.flow.strategy import FcsEvents, apply_strategy
r = apply_strategy(read_gatingml(sys.argv[2]), FcsEvents(read_fcs(sys.argv[1])))
print(json.dumps(r.counts()))
"""

FLOWKIT = """
import json, sys, flowkit
s = flowkit.Session(gating_strategy=sys.argv[2], fcs_samples=sys.argv[1])
sid = s.get_sample_ids()[0]
s.analyze_samples(sample_id=sid)
rep = s.get_gating_results(sid).report
print(json.dumps({r.gate_name: int(r.count) for r in rep.itertuples()}))
"""

# The floor is told everything in advance (layout, channel columns, matrix, gate geometry) and
# only computes, with numpy plus FlowUtils' C logicle (the exact reference implementation): it is
# what a hand-written script for this one tube costs.
FLOOR_COMMON = """
import json, sys
import numpy as np
from flowutils.transforms import logicle as fu_logicle
p, begin, events, par = sys.argv[1], *map(int, sys.argv[2:5])
a = np.fromfile(p, dtype="<f4", count=events * par, offset=begin).reshape(events, par)
names = json.loads(sys.argv[5]); spill = np.array(json.loads(sys.argv[6]))
fl = names[4:13]
col = {n: i for i, n in enumerate(names)}
inv = np.linalg.inv(spill)
def logicle(v):
    v = np.ascontiguousarray(v, dtype=np.float64).reshape(len(v), -1)
    out = fu_logicle(v, list(range(v.shape[1])), t=262144.0, w=0.5, m=4.5, a=0.0)
    return out if out.shape[1] > 1 else out[:, 0]
def comp(name):
    return a[:, [col[n] for n in fl]].astype(np.float64) @ inv[:, fl.index(name)]
"""

FLOOR_HIERARCHY = (
    FLOOR_COMMON
    + """
def poly(x, y, v):
    inside = np.zeros(x.shape, bool)
    for i in range(len(v)):
        (xa, ya), (xb, yb) = v[i], v[(i + 1) % len(v)]
        if ya == yb: continue
        c = (y >= ya) != (y >= yb)
        c &= x < xa + (y - ya) * (xb - xa) / (yb - ya)
        inside ^= c
    return inside
fsca, ssca, fsch = (a[:, col[n]].astype(np.float64) for n in ("FSC-A", "SSC-A", "FSC-H"))
cells = (fsca >= 30000) & (fsca < 250000) & (ssca >= 0) & (ssca < 250000)
sing = cells & poly(fsca, fsch, [(30000, 20400), (260000, 176800), (260000, 254800),
                                 (30000, 29400)])
cd45 = logicle(comp("V500-A"))
cd45p = sing & (cd45 >= 0.33) & (cd45 < 1.0)
blasts = cd45p & poly(cd45, ssca, [(0.33, 2000), (0.57, 2000), (0.58, 40000), (0.45, 48000),
                                   (0.33, 42000)])
cd34 = logicle(comp("PerCP-Cy5-5-A")); cd117 = logicle(comp("PE-Cy7-A"))
dp = blasts & (cd34 >= 0.4) & (cd34 < 1.0) & (cd117 >= 0.35) & (cd117 < 1.0)
print(json.dumps({k: int(m.sum()) for k, m in (("Cells", cells), ("Singlets", sing),
      ("CD45pos", cd45p), ("Blasts", blasts), ("CD34pos_CD117pos", dp))}))
"""
)

FLOOR_COMPLOG = (
    FLOOR_COMMON
    + """
out = logicle(a[:, [col[n] for n in fl]].astype(np.float64) @ inv)
print(json.dumps({"checksum": float(out.sum())}))
"""
)

TREPHINE_COMPLOG = """
import json, sys
from trephine.io.fcs import read_fcs
from trephine.analysis.flow.gates import Dimension, RectangleGate
from trephine.analysis.flow.strategy import FcsEvents, Strategy, dimension_values
from trephine.analysis.flow.transforms import LogicleTransform
f = read_fcs(sys.argv[1])
fl = f.spillover.channels
dims = [Dimension(c, "FCS", "L") for c in fl]
s = Strategy(gates=(RectangleGate("all", None, dims=dims[:1], bounds=((None, 1e300),)),),
             transforms={"L": LogicleTransform(262144.0, 0.5, 4.5, 0.0)})
cols = dimension_values(s, FcsEvents(f), dims)
print(json.dumps({"checksum": float(sum(c.sum() for c in cols))}))
"""

FLOWKIT_COMPLOG = """
import json, sys, flowkit
s = flowkit.Sample(sys.argv[1])
s.apply_compensation(s.metadata.get("spillover") or s.metadata["spill"])
s.apply_transform(flowkit.transforms.LogicleTransform(262144.0, 0.5, 4.5, 0.0))
ev = s.get_events(source="xform")
idx = [s.pnn_labels.index(c) for c in s.pnn_labels[4:13]]
print(json.dumps({"checksum": float(ev[:, idx].sum())}))
"""


def ensure_tube() -> Path:
    if not TUBE.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        print(f"generating {TUBE} ...", file=sys.stderr)
        tmp = TUBE.with_suffix(".tmp.fcs")
        subprocess.run([sys.executable, str(GEN), str(tmp)], check=True)
        for suffix in (".labels.npy", ".truth.json"):
            Path(str(tmp) + suffix).rename(str(TUBE) + suffix)
        tmp.rename(TUBE)
    return TUBE


def floor_args(path: Path) -> list[str]:
    """Layout, channel names and spillover, read here outside the timed process."""
    head = path.read_bytes()[:200_000]
    text = head[int(head[10:18]) : int(head[18:26]) + 1].decode("latin-1")
    delim = text[0]
    tokens = text[1:].split(delim)
    kw = {tokens[i].upper(): tokens[i + 1] for i in range(0, len(tokens) - 1, 2)}
    par = int(kw["$PAR"])
    names = [kw[f"$P{i}N"].strip() for i in range(1, par + 1)]
    sp = kw["$SPILLOVER"].split(",")
    n = int(sp[0])
    matrix = [[float(v) for v in sp[1 + n + r * n : 1 + n + (r + 1) * n]] for r in range(n)]
    return [
        kw["$BEGINDATA"].strip(),
        kw["$TOT"].strip(),
        str(par),
        json.dumps(names),
        json.dumps(matrix),
    ]


def run_once(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS MiB and stdout of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:3]}: exit {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_maxrss / 1024, stdout.strip()  # ru_maxrss is KiB on Linux


def measure(cmd: list[str], runs: int) -> tuple[float, float, str]:
    walls, rss, out = [], [], ""
    for _ in range(runs):
        w, r, out = run_once(cmd)
        walls.append(w)
        rss.append(r)
    return statistics.median(walls), max(rss), out


def counts_of(name: str, out: str) -> dict[str, int]:
    doc = json.loads(out)
    if "gates" in doc:  # the CLI's contract
        doc = {g: v["count"] for g, v in doc["gates"].items()}
    return {k: int(v) for k, v in doc.items()}


def logicle_timing(tube: Path, repeats: int) -> None:
    """In-process: one 2M-value compensated channel through each logicle (min of repeats)."""
    import numpy as np
    from flowutils.transforms import logicle as fu_logicle

    from trephine.analysis.flow.gates import Dimension
    from trephine.analysis.flow.strategy import FcsEvents, Strategy, dimension_values
    from trephine.analysis.flow.transforms import LogicleTransform
    from trephine.io.fcs import read_fcs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the blank-HEADER-offset quirk of files > 99,999,999 B
        events = FcsEvents(read_fcs(tube))
    empty = Strategy(gates=(), transforms={})
    (col,) = dimension_values(empty, events, [Dimension("V500-A", "FCS")])
    lg = LogicleTransform(262144.0, 0.5, 4.5, 0.0)

    def best(fn: object) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - t0)
        return min(times)

    ours = best(lambda: lg.apply(col))
    col2 = col.reshape(-1, 1).copy()
    ref = best(lambda: fu_logicle(col2.copy(), [0], t=262144.0, w=0.5, m=4.5, a=0.0))
    diff = float(np.max(np.abs(lg.apply(col) - fu_logicle(col2.copy(), [0])[:, 0])))
    print(f"\n## logicle, one {col.size:,}-value channel, in-process, best of {repeats}\n")
    print("| implementation | ms |")
    print("|---|---|")
    print(f"| Trephine LogicleTransform.apply | {ours * 1000:.0f} |")
    print(f"| FlowUtils 1.2.2 logicle (per-value root finding, C) | {ref * 1000:.0f} |")
    print(f"\n{ref / ours:.1f}x faster; max |difference| {diff:.1e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--skip-flowkit", action="store_true")
    opts = ap.parse_args()
    tube = ensure_tube()
    fa = floor_args(tube)
    py = sys.executable
    hierarchy = {
        "numpy floor": [py, "-c", FLOOR_HIERARCHY, str(tube), *fa],
        "Trephine CLI": [
            str(TREPHINE_CLI),
            "flow",
            "gate",
            str(tube),
            "--gating-ml",
            str(XML),
            "--json",
        ],
        "Trephine python -c": [py, "-c", TREPHINE_LIB, str(tube), str(XML)],
    }
    complog = {
        "numpy floor": [py, "-c", FLOOR_COMPLOG, str(tube), *fa],
        "Trephine python -c": [py, "-c", TREPHINE_COMPLOG, str(tube)],
    }
    if not opts.skip_flowkit:
        hierarchy["FlowKit 1.3.2"] = [py, "-c", FLOWKIT, str(tube), str(XML)]
        complog["FlowKit 1.3.2"] = [py, "-c", FLOWKIT_COMPLOG, str(tube)]

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {opts.runs} runs,")
    print(f"tube {tube.name} ({tube.stat().st_size / 1e6:.0f} MB), warm page cache")
    # Other work on the machine skews absolute times (ratios measured in one run hold better).
    print("load average at start: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    ok = True
    for task, contenders in (("5-level hierarchy", hierarchy), ("comp+logicle 9 ch", complog)):
        print(f"\n## {task}\n")
        print("| contender | wall s | peak RSS MiB | result |")
        print("|---|---|---|---|")
        results: dict[str, tuple[float, float]] = {}
        for name, cmd in contenders.items():
            wall, rss, out = measure(cmd, opts.runs)
            results[name] = (wall, rss)
            if task.startswith("5-level"):
                counts = counts_of(name, out)
                good = counts == EXPECTED
                ok &= good
                shown = " ".join(f"{k}={v}" for k, v in counts.items())
                shown += "" if good else "  **MISMATCH**"
            else:
                shown = out
            print(f"| {name} | {wall:.2f} | {rss:.0f} | {shown} |")
        if "FlowKit 1.3.2" in results:
            fk = results["FlowKit 1.3.2"][0]
            for name, (wall, _) in results.items():
                if name.startswith("Trephine"):
                    print(f"\n{name}: {fk / wall:.1f}x faster than FlowKit 1.3.2", end="")
            print()
        if "numpy floor" in results:
            fl = results["numpy floor"][0]
            for name, (wall, _) in results.items():
                if name.startswith("Trephine"):
                    print(f"{name}: {wall / fl:.2f}x the numpy floor's time")
    logicle_timing(tube, opts.runs)
    print("load average at end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print("\nexpected counts:", " ".join(f"{k}={v}" for k, v in EXPECTED.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
