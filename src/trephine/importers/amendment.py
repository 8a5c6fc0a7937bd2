"""Amending a stored result field by field (``trephine results amend --set FIELD=VALUE``).

A correction is parsed exactly as an import row would be: the import template's field declaration
and the importer's own cell parser (units, qualifiers, ranges), then the domain constructor
re-checks the whole value. Keeping it beside the importer, not in the command, means any other
edge (the API) amends by the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from trephine.domain.quantity import Quantity
from trephine.domain.results import ResultValue
from trephine.errors import Issue, TrephineError, ValidationError, option
from trephine.importers.clinical import Cells, result_field_value
from trephine.importers.template import RESULT_FIELDS, FieldType
from trephine.io.tabular import Record


@dataclass(frozen=True)
class Assignment:
    """One ``--set FIELD=VALUE`` with the ``--unit``/``--lod``/``--lloq`` given for that field."""

    field: str
    text: str
    unit: str | None = None
    lod: str | None = None
    lloq: str | None = None


def amended_value(old: ResultValue, assignments: Sequence[Assignment]) -> ResultValue:
    """``old`` with the assigned fields replaced, validated as the importer validates a row.

    Each field is parsed by the importer's own cell parser against the import template's field
    declaration (units converted, qualifiers ``<``/``>``/``not detected`` read, ranges checked),
    then the domain constructor re-checks the whole value (e.g. the differential's
    ``cells_counted`` must still equal the sum of the counts). Fields the template does not
    declare (flow MRD provenance, for instance) are carried over unchanged.
    """
    declared = RESULT_FIELDS[old.kind]
    changes: dict[str, Any] = {}
    for item in assignments:
        spec = declared.get(item.field)
        if spec is None:
            raise ValidationError(
                "field", item.field, sorted(declared), reason=f"not a field of {old.kind}"
            )
        if spec.kind is not FieldType.QUANTITY:
            for option, extra in (
                ("unit", item.unit),
                ("lod", item.lod),
                ("lloq", item.lloq),
            ):
                if extra is not None:
                    raise ValidationError(option, extra, f"nothing: {item.field} has no unit")
        record = Record(
            "assignment",
            0,
            {
                item.field: item.text or None,
                "unit": item.unit or None,
                "lod": item.lod or None,
                "lloq": item.lloq or None,
            },
        )
        issues: list[Issue] = []
        cells = Cells(record, issues)
        parsed = result_field_value(cells, spec, column=item.field)
        if cells.failed:
            # The importer reports a located Issue; its message already names field, value and
            # what is allowed, which is what the command line needs (there is no row here).
            raise AssignmentRefused(item, issues[0].message)
        head, _, sub = spec.target.partition(".")
        if spec.kind is FieldType.QUANTITY:
            parsed = _keep_limits(item, getattr(old, head), parsed)
        if sub:
            # counts.<class> / dysplasia.<lineage>: change one entry, keep the rest. StrEnum keys
            # hash like their text, so the new entry replaces the old one.
            mapping = changes.setdefault(head, dict(getattr(old, head)))
            mapping[sub] = parsed
        else:
            changes[head] = parsed
    if getattr(old, "labelling", None) is not None and {"counts", "cells_counted"} & set(changes):
        # Counted on an image: the labelled cells no longer add up to the corrected counts. The
        # amendment keeps the labelling (services.results → domain.with_provenance marks it).
        changes["labelling"] = None
    try:
        return replace(old, **changes)
    except TypeError as exc:  # pragma: no cover - every declared target is a constructor field
        raise ValidationError("field", sorted(changes), reason=str(exc)) from None


def _keep_limits(item: Assignment, old: object, new: Quantity) -> Quantity:
    """Correcting a number must not silently drop the assay's detection limits: LOD and LLOQ
    not given again are carried over from the version being amended (they are stored in the
    canonical unit, as the new value is). ``--lod FIELD=`` with nothing after it removes one."""
    if not isinstance(old, Quantity):
        return new
    lod = old.lod if item.lod is None and new.lod is None else new.lod
    lloq = old.lloq if item.lloq is None and new.lloq is None else new.lloq
    if (lod, lloq) == (new.lod, new.lloq):
        return new
    try:
        return replace(new, lod=lod, lloq=lloq)
    except ValidationError as exc:
        raise ValidationError(
            f"{item.field} {exc.field}",
            str(exc.value),
            exc.allowed,
            reason=f"{exc.reason or 'carried over from the amended version'}; "
            f"give a new {option('lod')}/{option('lloq')} for {item.field} to change it",
        ) from None


class AssignmentRefused(TrephineError, ValueError):
    """A new field value the importer's parser refused; ``reason`` is the importer's message.

    Worded without ``--set`` because amending is not only a command-line affair (an API or a
    correction sheet would say it differently); the CLI adds its own option syntax.
    """

    def __init__(self, item: Assignment, message: str) -> None:
        self.field = item.field
        self.value = item.text
        self.reason = message
        super().__init__(f"field {item.field}, value {item.text!r} refused: {message}")
