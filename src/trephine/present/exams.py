"""A recorded clinical examination as JSON: the one shape of ``trephine exams list --json`` and
``/api/v1/patients/{id}/exams`` (findings as a result's exact JSON, numbers as decimal strings in
canonical units, and the sentence the pages show)."""

from __future__ import annotations

from typing import Any

from trephine.present.results import detail, exam_text
from trephine.services.exams import StoredExam


def exam_json(exam: StoredExam) -> dict[str, Any]:
    return {
        "id": exam.id,
        "patient": exam.patient_id,
        "examined_on": exam.examined_on.isoformat(),
        "version": exam.version,
        "current": exam.current,
        "findings": detail(exam.value),
        "text": exam_text(exam.value),
        "recorded_by": exam.recorded_by,
        "recorded_at": exam.recorded_at.isoformat(),
        "supersedes": exam.supersedes_id,
        "amendment_reason": exam.amendment_reason,
    }
