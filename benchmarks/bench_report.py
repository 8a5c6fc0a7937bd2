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
    from trephine.domain import (
        AspirateDifferential,
        CellClass,
        Patient,
        PatientIdentity,
        Procedure,
        Sex,
        Site,
        Specimen,
        SpecimenType,
    )
    from trephine.domain import quantity as q
    from trephine.domain.patient import Classification, Diagnosis, Disease
    from trephine.domain.quantity import Qualifier, Quantity
    from trephine.domain.report import ReportStatus
    from trephine.domain.results import (
        CELLULARITY,
        MOLECULAR_RATIO,
        VAF,
        BloodCount,
        Chimerism,
        ChimerismLineage,
        CoreFindings,
        FibrosisGrade,
        FlowMethod,
        FlowMRD,
        IronScale,
        Karyotype,
        MolecularMRD,
        NGSVariant,
    )
    from trephine.services import patients, procedures, reports, results
    from trephine.store.database import Database

    db = Database(url)
    db.upgrade()
    start = dt.datetime(2020, 1, 6, 9, 0, tzinfo=dt.UTC)
    first = 0
    first_count = 0
    with db.unit_of_work("bench") as uow:
        patients.register_patient(
            uow,
            Patient("BENCH-1", Sex.MALE, 1960),
            PatientIdentity("Synthetic Bench", "MRN-BENCH-1", dt.date(1960, 2, 3)),
        )
        patients.add_diagnosis(
            uow, "BENCH-1", Diagnosis(Disease.AML, start.date(), Classification.WHO_5)
        )
    ids: list[int] = []
    for n in range(40):
        at = start + dt.timedelta(days=30 * n)
        with db.unit_of_work("bench") as uow:
            pid, _ = procedures.record_procedure(
                uow, "BENCH-1", Procedure(at, Site.POSTERIOR_ILIAC_CREST)
            )
            first = first or pid
            for suffix, kind in (
                ("A", SpecimenType.ASPIRATE),
                ("C", SpecimenType.TREPHINE_CORE),
                ("PB", SpecimenType.PERIPHERAL_BLOOD),
            ):
                procedures.add_specimen(
                    uow, "BENCH-1", Specimen(f"B1-{n:02d}-{suffix}", kind, at), pid
                )
            blasts = 5 + n % 20
            values = [
                (
                    "A",
                    AspirateDifferential(
                        {
                            CellClass.BLAST: blasts,
                            CellClass.NEUTROPHIL: 300 - blasts,
                            CellClass.ERYTHROBLAST: 120,
                            CellClass.LYMPHOCYTE: 60,
                            CellClass.MONOCYTE: 20,
                        },
                        500,
                    ),
                ),
                (
                    "PB",
                    BloodCount(
                        wbc=q.WBC.parse("3.4"),
                        anc=q.ANC.parse("1.2"),
                        platelets=q.PLATELETS.parse("88"),
                        hemoglobin=q.HEMOGLOBIN.parse("9.1"),
                    ),
                ),
                (
                    "C",
                    CoreFindings(
                        cellularity=CELLULARITY.parse("60"),
                        fibrosis=FibrosisGrade.MF1,
                        iron_grade=2,
                        iron_scale=IronScale.PLUS,
                    ),
                ),
                (
                    "A",
                    FlowMRD(
                        Quantity(Decimal("0.01"), "%", Qualifier.LESS_THAN, lod=Decimal("0.005")),
                        FlowMethod.LAIP,
                        events_acquired=500_000,
                    ),
                ),
                ("A", Karyotype("46,XY[20]")),
                ("A", NGSVariant("NPM1", "c.860_863dup", VAF.parse("12.5"), depth=1500)),
            ]
            if n == 0:
                genes = ["DNMT3A", "TET2", "ASXL1", "IDH1", "IDH2", "RUNX1", "TP53", "SRSF2"]
                values += [
                    ("A", NGSVariant(g, f"c.{100 + i}A>G", VAF.parse(f"{5 + i}.5"), depth=900))
                    for i, g in enumerate(genes)
                ]
                values += [
                    ("A", MolecularMRD("NPM1", MOLECULAR_RATIO.parse("0.05"))),
                    ("PB", Chimerism(Quantity(Decimal("98.5"), "%"))),
                    ("A", Chimerism(Quantity(Decimal("97"), "%"), ChimerismLineage.T_CELLS)),
                    ("A", MolecularMRD("WT1", Quantity(Decimal("0.8"), "%"))),
                    ("A", MolecularMRD("FLT3-ITD", Quantity(Decimal("0.02"), "%"))),
                    ("A", MolecularMRD("RUNX1-RUNX1T1", Quantity(Decimal("0.004"), "%"))),
                ]
                first_count = len(values)
            for suffix, value in values:
                stored, _ = results.record_result(uow, f"B1-{n:02d}-{suffix}", value)
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
