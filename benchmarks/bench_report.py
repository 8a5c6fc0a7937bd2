"""Marrow report PDF of a 20-result procedure and the FHIR bundle of a 40-biopsy patient.

Builds a throwaway SQLite database (synthetic patient BENCH-1: 40 biopsies, each with an
aspirate, a core and a blood specimen; the first biopsy carries 20 signed-out results, the others
6 each; every procedure has an issued final report), then times, each as the median of
``--runs`` after one warm-up run:

* ``pdf``: read the report (services), build the document and print it with WeasyPrint;
  baseline in the same run: the same report rendered to HTML only (ratio PDF / HTML);
* ``fhir``: read the patient's 40 reports and build, validate (fhir.resources R4B) and serialise
  the whole-record Bundle; baseline: building the same Bundle as plain dicts and ``json.dumps``
  without the fhir.resources validation (ratio validated / unvalidated);
* the same two as a user runs them: ``trephine report ID --format pdf`` and ``trephine fhir
  bundle`` in a fresh process (start-up and imports included), once each.

Target (issue 10): each under 2 s on this machine. A benchmark, not a test.

    .venv/bin/python benchmarks/bench_report.py
    .venv/bin/python benchmarks/bench_report.py --runs 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

TARGET_S = 2.0


def build(url: str) -> tuple[int, int]:
    """The database; answers (first procedure id, number of results on it)."""
    from trephine.domain import Patient, PatientIdentity, Sex, SpecimenType
    from trephine.domain.quantity import Quantity
    from trephine.domain.report import ReportStatus
    from trephine.domain.results import (
        MOLECULAR_RATIO,
        VAF,
        Chimerism,
        ChimerismLineage,
        Karyotype,
        MolecularMRD,
        NGSVariant,
        ResultValue,
    )
    from trephine.services import reports, results
    from trephine.store.database import Database
    from trephine.testing.report_seed import add_biopsy, biopsy_results, register

    db = Database(url)
    db.upgrade()
    start = dt.datetime(2020, 1, 6, 9, 0, tzinfo=dt.UTC)
    first = 0
    first_count = 0
    with db.unit_of_work("bench") as uow:
        identity = PatientIdentity("Synthetic Bench", "MRN-BENCH-1", dt.date(1960, 2, 3))
        register(uow, Patient("BENCH-1", Sex.MALE, 1960), identity, start.date())
    ids: list[int] = []
    for n in range(40):
        at = start + dt.timedelta(days=30 * n)
        accessions = {
            SpecimenType.ASPIRATE: f"B1-{n:02d}-A",
            SpecimenType.TREPHINE_CORE: f"B1-{n:02d}-C",
            SpecimenType.PERIPHERAL_BLOOD: f"B1-{n:02d}-PB",
        }
        with db.unit_of_work("bench") as uow:
            pid = add_biopsy(uow, "BENCH-1", at, {k: (a, {}) for k, a in accessions.items()})
            first = first or pid
            ordinary = biopsy_results(blasts=5 + n % 20, cellularity="60", vaf="12.5", depth=1500)
            values: list[tuple[SpecimenType, ResultValue]] = [
                *ordinary.values(),
                (SpecimenType.ASPIRATE, Karyotype("46,XY[20]")),
            ]
            if n == 0:
                aspirate = SpecimenType.ASPIRATE
                genes = ["DNMT3A", "TET2", "ASXL1", "IDH1", "IDH2", "RUNX1", "TP53", "SRSF2"]
                values += [
                    (aspirate, NGSVariant(g, f"c.{100 + i}A>G", VAF.parse(f"{5 + i}.5"), depth=900))
                    for i, g in enumerate(genes)
                ]
                values += [
                    (aspirate, MolecularMRD("NPM1", MOLECULAR_RATIO.parse("0.05"))),
                    (SpecimenType.PERIPHERAL_BLOOD, Chimerism(Quantity(Decimal("98.5"), "%"))),
                    (
                        aspirate,
                        Chimerism(Quantity(Decimal("97"), "%"), ChimerismLineage.T_CELLS),
                    ),
                    (aspirate, MolecularMRD("WT1", Quantity(Decimal("0.8"), "%"))),
                    (aspirate, MolecularMRD("FLT3-ITD", Quantity(Decimal("0.02"), "%"))),
                    (aspirate, MolecularMRD("RUNX1-RUNX1T1", Quantity(Decimal("0.004"), "%"))),
                ]
                first_count = len(values)
            for kind, value in values:
                stored, _ = results.record_result(uow, accessions[kind], value)
                ids.append(stored.id)
            for rid in ids:
                results.verify_result(uow, rid)
            ids.clear()
            reports.issue_report(
                uow, pid, ReportStatus.FINAL, diagnosis="AML", diagnosis_classification="WHO 5th"
            )
    db.dispose()
    return first, first_count


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (CPU time is what the machine's
    load does not inflate: on a shared machine wall time is mostly waiting for a core)."""
    fn()  # warm-up: imports, template compilation, font loading
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from trephine.present import fhir
    from trephine.present import report as present
    from trephine.services import reports
    from trephine.store.database import Database

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench-report.db'}"
        t0 = time.perf_counter()
        proc, count = build(url)
        print(
            f"built BENCH-1 (40 biopsies; procedure {proc} has {count} results) "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        db = Database(url)

        def report_doc() -> present.Document:
            with db.unit_of_work("bench") as uow:
                found = reports.marrow_report(uow, proc)
            return present.document(found, lab="Bench lab", software="bench")

        def pdf() -> bytes:
            return present.pdf(report_doc())

        def html() -> str:
            return present.html(report_doc())

        def bundle_parts() -> tuple[reports.PatientReports, fhir.PatientRef]:
            with db.unit_of_work("bench") as uow:
                found = reports.patient_reports(uow, "BENCH-1")
            return found, fhir.pseudonymised_patient(found.record.patient)

        def validated() -> str:
            found, ref = bundle_parts()
            return fhir.dumps(fhir.patient_bundle(found, patient=ref))

        def unvalidated() -> str:
            found, ref = bundle_parts()
            b = fhir._Builder(ref, fhir.EXACT, "urn", "", "include")
            b.patient_resource()
            for r in found.reports:
                fhir._report_into(b, r, [])
            return json.dumps(b.bundle(), default=str)

        size = len(pdf())
        entries = len(json.loads(validated())["entry"])
        (t_pdf, c_pdf_cpu), (t_html, _) = timed(pdf, args.runs), timed(html, args.runs)
        (t_fhir, c_fhir_cpu), (t_plain, _) = (
            timed(validated, args.runs),
            timed(unvalidated, args.runs),
        )

        env = {**os.environ, "TREPHINE_DATABASE_URL": url}
        cli = [sys.executable, "-m", "trephine"]
        out = Path(tmp)

        def child(argv: list[str]) -> tuple[float, float]:
            """Wall time and the child's CPU time of one ``trephine`` run."""
            t0, before = time.perf_counter(), os.times()
            subprocess.run([*cli, *argv], env=env, check=True, capture_output=True)
            after = os.times()
            used = (after.children_user - before.children_user) + (
                after.children_system - before.children_system
            )
            return time.perf_counter() - t0, used

        c_pdf, c_pdf_child = child(
            ["report", str(proc), "--format", "pdf", "--out", str(out / "r.pdf")]
        )
        c_fhir, c_fhir_child = child(
            ["fhir", "bundle", "--patient", "BENCH-1", "--out", str(out / "b.json")]
        )
        db.dispose()

    def verdict(t: float) -> str:
        return "PASS" if t < TARGET_S else "FAIL"

    print(f"load average: {os.getloadavg()[0]:.1f} (other work shares this machine)")
    print(
        f"report PDF, {count} results ({size:,} bytes): in process {t_pdf:.2f} s wall, "
        f"{c_pdf_cpu:.2f} s CPU [{verdict(c_pdf_cpu)} < {TARGET_S} s CPU]; HTML only "
        f"{t_html:.3f} s; PDF / HTML = {t_pdf / t_html:.0f}x"
    )
    print(
        f"  `trephine report --format pdf`, fresh process: {c_pdf:.2f} s wall, "
        f"{c_pdf_child:.2f} s CPU [{verdict(c_pdf_child)}]"
    )
    print(
        f"FHIR bundle, 40 biopsies ({entries} resources): in process {t_fhir:.2f} s wall, "
        f"{c_fhir_cpu:.2f} s CPU [{verdict(c_fhir_cpu)} < {TARGET_S} s CPU]; without the "
        f"fhir.resources validation {t_plain:.2f} s; validated / plain = "
        f"{t_fhir / t_plain:.1f}x"
    )
    print(
        f"  `trephine fhir bundle`, fresh process: {c_fhir:.2f} s wall, "
        f"{c_fhir_child:.2f} s CPU [{verdict(c_fhir_child)}]"
    )


if __name__ == "__main__":
    main()
