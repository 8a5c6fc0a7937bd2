"""The notebook API: ``db = trephine.connect(url)`` and tidy pandas DataFrames of the record.

An edge like the CLI: it reads through the services (cohorts, exports, research) and never
shows more than the caller's role may see. The caller is the account named by ``user`` (or
``TREPHINE_USER``); without one the view is the researcher's. A role without identity access
(researcher) gets the Safe Harbor view — keyed-hash pseudonyms (``TREPHINE_EXPORT_KEY``), days
from diagnosis, ages over 89 as 90+ — exactly what ``trephine export --deidentify safe-harbor``
writes; roles with identity access get the record's ids and dates. Names, MRNs and birth dates
are never in a frame. Every frame is one row per fact, one column per field (no nested dicts);
units are in a ``unit`` column or in ``DataFrame.attrs["units"]``. Every call is audited as a
query of the patients it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from trephine.services.cohorts import Evaluation
    from trephine.store.database import Database, UnitOfWork


class Connection:
    """A connection to a Trephine database for analysis (see :func:`connect`)."""

    def __init__(self, database: Database, *, user: str, role: str) -> None:
        from trephine.access import Permission, Role, allows
        from trephine.present.deidentify import Deidentifier, Level
        from trephine.settings import get_settings

        self.database = database
        self.user = user
        self.role = role
        identified = allows(Role(role), Permission.IDENTITY_READ)
        if identified:
            self._deid = Deidentifier(Level.NONE)
        else:
            key = get_settings().export_key
            self._deid = Deidentifier(
                Level.SAFE_HARBOR, key.get_secret_value().encode() if key else b""
            )

    def __repr__(self) -> str:
        return f"<trephine.Connection {self.user} ({self.role}, {self._deid.level} view)>"

    # ------------------------------------------------------------------ internals
    def _everyone(self, uow: UnitOfWork) -> Evaluation:
        """Every patient with a diagnosis (time zero: the first), audited as a query."""
        from trephine.domain.cohort import CohortDefinition
        from trephine.services import audit
        from trephine.services.cohorts import Cohort, Evaluation, as_date, member_query

        rows = uow.session.execute(member_query(uow, CohortDefinition())).all()
        members = tuple(r[0] for r in rows)
        audit.append(
            uow,
            audit.Entry(
                "query",
                "patient",
                len(members),
                {"what": "notebook: all patients", "role": self.role, "patients": list(members)},
            ),
        )
        cohort = Cohort("(all)", 0, CohortDefinition(), None, self.user, uow.now())
        return Evaluation(
            cohort, self.user, uow.now(), members, {r[0]: as_date(r[1]) for r in rows}
        )

    def _tables(self, cohort: str | None) -> dict[str, list[dict[str, Any]]]:
        from trephine.services import cohorts, exports

        with self.database.unit_of_work(self.user) as uow:
            ev = cohorts.evaluate(uow, cohort) if cohort else self._everyone(uow)
            return exports.build(uow, ev, self._deid).tables

    def _frame(self, rows: Sequence[dict[str, Any]], **attrs: Any) -> pd.DataFrame:
        import pandas as pd

        frame = pd.DataFrame(list(rows))
        units = {c: "days from diagnosis" for c in frame.columns if c.endswith("_day")}
        frame.attrs.update({"view": str(self._deid.level), "units": units, **attrs})
        return frame

    # ------------------------------------------------------------------ the API
    def patients(self, cohort: str | None = None) -> pd.DataFrame:
        """One row per patient: id (pseudonym for researchers), sex, age at diagnosis, time zero."""
        return self._frame(self._tables(cohort).get("patients", []))

    def results(self, kind: str | None = None, cohort: str | None = None) -> pd.DataFrame:
        """One row per result value (field, value or value_text, unit, qualifier, LOD, LLOQ) of
        the current version of every result; ``kind`` keeps one result kind (``flow_mrd``)."""
        rows = self._tables(cohort).get("results", [])
        if kind is not None:
            rows = [r for r in rows if r["kind"] == kind]
        return self._frame(rows)

    def assessments(self, cohort: str | None = None, call_kind: str | None = None) -> pd.DataFrame:
        """One row per stored criteria call (call kind, category, rule set, edition, version)."""
        rows = self._tables(cohort).get("assessments", [])
        if call_kind is not None:
            rows = [r for r in rows if r["call_kind"] == call_kind]
        return self._frame(rows)

    def variants(self, cohort: str | None = None, gene: str | None = None) -> pd.DataFrame:
        """One row per stored sequencing variant (gene, HGVS, VAF with its unit, depth)."""
        rows = self._tables(cohort).get("variants", [])
        if gene is not None:
            rows = [r for r in rows if r["gene"] == gene]
        return self._frame(rows)

    def define(self, name: str, **criteria: Any) -> int:
        """Save a cohort definition (the options of ``trephine cohort define`` as keywords:
        ``diseases=["AML"], genes=["FLT3"], mrd="negative", mrd_day=90``); returns its version."""
        from trephine.domain.cohort import CohortDefinition
        from trephine.services import cohorts

        definition = CohortDefinition.from_json(criteria)
        with self.database.unit_of_work(self.user) as uow:
            saved, _ = cohorts.define(uow, name, definition)
        return saved.version

    def cohort(self, name: str) -> pd.DataFrame:
        """The saved cohort evaluated now (kept): one row per member with its time zero;
        ``attrs`` hold the name, version and definition."""
        from trephine.services import cohorts

        with self.database.unit_of_work(self.user) as uow:
            ev = cohorts.evaluate(uow, name)
        rows = [
            {
                "patient_id": self._deid.patient(m),
                self._deid.date_column("time_zero_on"): self._deid.date(
                    m, ev.time_zero[m], ev.time_zero[m]
                ),
            }
            for m in ev.members
        ]
        return self._frame(
            rows, cohort=name, version=ev.cohort.version, definition=ev.cohort.definition.to_json()
        )

    def landmark(self, name: str, *, day: int, window: int = 14) -> pd.DataFrame:
        """Relapse-free survival rows of a cohort from day ``day`` by the MRD status at the
        landmark (``group``), time in days from the landmark, ``event`` 1 = relapse; the input
        of a Kaplan–Meier by MRD (``trephine.kaplan_meier``, ``trephine.logrank``)."""
        from trephine.analysis.cohort.outcomes import landmark_rows
        from trephine.services import cohorts, research

        with self.database.unit_of_work(self.user) as uow:
            ev = cohorts.evaluate(uow, name)
            rows = landmark_rows(research.courses(uow, ev), day=day, window=window)
        return self._frame(
            [
                {
                    "patient_id": self._deid.patient(r.patient),
                    "group": r.group,
                    "time": r.time,
                    "event": r.event,
                }
                for r in rows
            ],
            landmark_day=day,
            window=window,
        )

    def close(self) -> None:
        self.database.dispose()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def connect(url: str | None = None, *, user: str | None = None) -> Connection:
    """Open a Trephine database for analysis as ``user`` (an enabled account; default
    ``TREPHINE_USER``). Without an account the view is the researcher's (Safe Harbor, which needs
    ``TREPHINE_EXPORT_KEY``)."""
    from trephine.services import open_database
    from trephine.settings import get_settings

    database = open_database(url)
    name = user or get_settings().user
    if name is None:
        return Connection(database, user=get_settings().cli_user, role="researcher")
    from trephine.services import accounts

    with database.unit_of_work(name) as uow:
        principal = accounts.cli_principal(uow, name)
    return Connection(database, user=principal.name, role=str(principal.role))


__all__ = ["Connection", "connect"]
