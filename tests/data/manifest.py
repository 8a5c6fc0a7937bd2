# ruff: noqa: E501
"""Write ``tests/data/MANIFEST.md``: every vendored file with its origin, licence and SHA-256.

Run ``python tests/data/manifest.py`` after adding or replacing a file here; the test
``tests/test_data_manifest.py`` fails while the manifest and the files disagree. Origins are
the upstream manifests' (``flow/UPSTREAM-MANIFEST.md``, ``clonal/UPSTREAM-MANIFEST.md``), by
folder; the longest matching prefix wins.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (path prefix, origin, licence). Licences are SPDX ids; GPL texts are in LICENSES/.
ORIGINS: tuple[tuple[str, str, str], ...] = (
    (
        "flow/fcs/cytoflow_instruments/",
        "cytoflow/cytoflow@c31a6f5 cytoflow/tests/data/instruments/",
        "GPL-3.0-or-later",
    ),
    (
        "flow/fcs/fcsparser/",
        "eyurtsev/fcsparser@da70aaa fcsparser/tests/data/FlowCytometers/",
        "MIT",
    ),
    ("flow/fcs/flowcal/", "taborlab/FlowCal@0212f41 test/", "MIT"),
    ("flow/fcs/flowcore/", "RGLab/flowCore@761a60f inst/extdata/", "Artistic-2.0"),
    (
        "flow/fcs/flowio/truth/",
        "computed from the FlowIO files with FlowIO 1.4.0 (flow/UPSTREAM-MANIFEST.md §2.3)",
        "BSD-3-Clause",
    ),
    ("flow/fcs/flowio/", "whitews/FlowIO@9ae6542 data/fcs_files/", "BSD-3-Clause"),
    ("flow/fcs/flowkit/", "whitews/FlowKit@f215904 data/", "BSD-3-Clause"),
    ("flow/flowjo_wsp/", "whitews/FlowKit@f215904 data/", "BSD-3-Clause"),
    ("flow/gatingml2_compliance/", "whitews/FlowKit@f215904 data/gate_ref/", "BSD-3-Clause"),
    (
        "flow/compensation/flowcore_compdata/",
        "RGLab/flowCore@761a60f inst/extdata/compdata/",
        "Artistic-2.0",
    ),
    (
        "flow/transforms/",
        "FlowJo biex lookup table from whitews/FlowKit@f215904 test data",
        "BSD-3-Clause",
    ),
    (
        "flow/UPSTREAM-MANIFEST.md",
        "../shared/data/flow/MANIFEST.md (the curator's notes, kept as attribution)",
        "Apache-2.0",
    ),
    (
        "clonal/ding2012_aml1/aml1_variants_annotated.tsv",
        "derived from aml1_variants.tsv + timescape_AML_mutations.csv (clonal/UPSTREAM-MANIFEST.md §1)",
        "GPL-3.0-only",
    ),
    (
        "clonal/ding2012_aml1/aml1_",
        "hdng/clonevol@7aff737aedde data/aml1.rda, converted to TSV (values unchanged)",
        "GPL-3.0-only",
    ),
    (
        "clonal/ding2012_aml1/timescape_",
        "shahcompbio/timescape@6eeebd2946e4 inst/extdata/",
        "GPL-3.0-only",
    ),
    (
        "clonal/apl_madan2016/",
        "PoisonAlien/maftools@c8ff3283f739 inst/extdata/ (decompressed, CR -> LF)",
        "MIT",
    ),
    (
        "clonal/tcga_laml/",
        "PoisonAlien/maftools@c8ff3283f739 inst/extdata/ (TCGA open-access data)",
        "MIT",
    ),
    (
        "clonal/calder_cll003/",
        "raphael-group/calder@f9773e9db8b6 CLL003_clustered.txt",
        "BSD-3-Clause",
    ),
    (
        "clonal/pyclone_vi/",
        "Roth-Lab/pyclone-vi@0ea6a36a357d examples/synthetic.tsv (simulated)",
        "GPL-3.0-only",
    ),
    (
        "clonal/fishplot_examples/",
        "numbers transcribed from chrisamiller/fishplot@3336c931ec59 tests/test.R",
        "Apache-2.0",
    ),
    ("clonal/survival/lifelines_", "CamDavidsonPilon/lifelines lifelines/datasets/", "MIT"),
    (
        "clonal/survival/rdatasets_KMsurv_bmt.csv",
        "vincentarelbundock/Rdatasets@1c97ab8a1df2 csv/KMsurv/bmt.csv (R KMsurv)",
        "GPL-3.0-or-later",
    ),
    (
        "clonal/survival/rdatasets_survival_",
        "vincentarelbundock/Rdatasets csv/survival/ (R survival)",
        "LGPL-2.0-or-later",
    ),
    (
        "clonal/UPSTREAM-MANIFEST.md",
        "../shared/data/clonal/MANIFEST.md (the curator's notes, kept as attribution)",
        "Apache-2.0",
    ),
    (
        "spec/clinical-cases.json",
        "Trephine's clinical specification (../shared/spec/clinical-cases.json)",
        "Apache-2.0",
    ),
    (
        "bench/mrd-hierarchy.gatingml.xml",
        "Trephine's flow benchmark kit (../shared/bench/mrd-hierarchy.gatingml.xml)",
        "Apache-2.0",
    ),
    (
        "bench/mrd-tube.fcs",
        "synthetic: ../shared/bench/gen_synthetic_fcs.py OUT --events 20000 --seed 1",
        "Apache-2.0",
    ),
    (
        "bench/tube_a.fcs",
        "synthetic: ../shared/bench/gen_synthetic_fcs.py OUT --events 30000 --seed 11",
        "Apache-2.0",
    ),
    (
        "bench/tube_b.fcs",
        "synthetic: ../shared/bench/gen_synthetic_fcs.py OUT --events 12000 --seed 12",
        "Apache-2.0",
    ),
    (
        "bench/tube_c.fcs",
        "synthetic: ../shared/bench/gen_synthetic_fcs.py OUT --events 20000 --seed 13",
        "Apache-2.0",
    ),
    (
        "omics/10x_pbmc68k_reduced.h5ad",
        "the scanpy 1.11.5 wheel on PyPI, scanpy/datasets/10x_pbmc68k_reduced.h5ad (700 cells of"
        " 10x Genomics' PBMC 68k, Zheng et al. 2017, reduced by scanpy; written by anndata < 0.7)",
        "BSD-3-Clause",
    ),
    ("LICENSES/", "licence texts of the files above", "-"),
)
SKIP = {"MANIFEST.md", "manifest.py"}

HEADER = """# tests/data — vendored test material

Real files the tests read, shipped so that the suite runs from a bare clone (no `../shared`).
Data only, no code. Each row: the file (relative to this folder), where it comes from, its
licence (SPDX), and its SHA-256. Generated by `python tests/data/manifest.py`;
`tests/test_data_manifest.py` checks every checksum, and, when `../shared` is beside the
repository, that each copy still equals its origin there.

Licences: everything here may be redistributed. The GPL and Artistic files (cytoflow instrument
files, flowCore files, ClonEvol/TimeScape/PyClone-VI tables, KMsurv) are kept as **test fixtures
with this attribution and are never packaged** (the wheel holds `src/trephine` only); GPL texts are
in `LICENSES/`. Upstream curators' notes, with per-file anchors and quirks, are in
`flow/UPSTREAM-MANIFEST.md` and `clonal/UPSTREAM-MANIFEST.md` (they also describe a few files
that were not vendored because no test reads them).

Not vendored: `../shared/data/imaging` (licences forbid redistribution: "research/test use with
attribution, do not redistribute", third-party images); no test reads it today, and a test that
does must skip with that reason when `../shared` is absent.

| file | origin | licence | sha256 |
|---|---|---|---|
"""


def origin_of(rel: str) -> tuple[str, str]:
    hits = [(p, o, lic) for p, o, lic in ORIGINS if rel.startswith(p)]
    if not hits:
        raise SystemExit(f"no origin for {rel}: add it to ORIGINS")
    _, origin, licence = max(hits, key=lambda h: len(h[0]))
    return origin, licence


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files() -> list[str]:
    return sorted(
        p.relative_to(HERE).as_posix()
        for p in HERE.rglob("*")
        if p.is_file() and p.name not in SKIP and "__pycache__" not in p.parts
    )


def render() -> str:
    rows = []
    for rel in files():
        origin, licence = origin_of(rel)
        rows.append(f"| `{rel}` | {origin} | {licence} | `{sha256(HERE / rel)}` |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    (HERE / "MANIFEST.md").write_text(render(), encoding="utf-8")
