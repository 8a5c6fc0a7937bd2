"""Batch results as CSV, JSON or Excel: one row per file, in path order.

Levels are written as exact decimal strings in CSV and JSON (as ``trephine flow mrd --json``
does): a float would turn 0.1 % into 0.1000000000000000055511151231257827 % on the way back.
Excel gets numbers, because labs sort and filter there; the CSV/JSON remain the record.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

from trephine.batch.flow_mrd import MRD_KIND, TubeRecord
from trephine.errors import ValidationError

FORMATS = (".csv", ".json", ".xlsx")


def check_output_path(path: Path) -> None:
    """Refuse an output the batch could not write, before the batch runs (not after)."""
    if path.suffix.lower() not in FORMATS:
        raise ValidationError("output", str(path), FORMATS, reason="unknown file type")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValidationError(
            "output", str(path), "a file in an existing directory", reason="no such directory"
        )


def write_records(
    path: Path, records: Sequence[TubeRecord], meta: Mapping[str, object] | None = None
) -> None:
    """Write ``records`` to ``path`` in the format its suffix names (see :data:`FORMATS`)."""
    check_output_path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        doc = {**(meta or {}), "files": [r.to_dict() for r in records]}
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        return
    rows = [r.row() for r in records]
    # A batch's records are all of one kind (flow MRD or flow gate): that kind's columns.
    kind = records[0].kind if records else MRD_KIND
    header = list(TubeRecord(file="", kind=kind).row())
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook always has its first sheet
    ws.title = kind
    ws.append(header)
    for row in rows:
        ws.append([float(v) if isinstance(v, Decimal) else v for v in row.values()])
    if meta:
        info = wb.create_sheet("batch")
        for k, v in meta.items():
            info.append([k, str(v)])
    wb.save(path)
