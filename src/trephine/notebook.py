"""The notebook API: ``db = trephine.connect(url)`` and tidy pandas DataFrames of the record.

An edge like the CLI: it reads through the services (cohorts, exports, research) and never
shows more than the caller's role may see. The caller is an account, found as the CLI finds
its own (:func:`trephine.cli.common.acting`): an API token (``token=`` or ``TREPHINE_TOKEN``,
which proves who is acting; its use is audited) or an enabled account named by ``user=`` (or
``TREPHINE_USER``). Once the database has accounts, one of them is required and its role must
grant ``records:read``; only a database without accounts (the embedded single-user default)
is read as ``TREPHINE_CLI_USER``, in the pseudonymised view. A role without identity access
(researcher) gets the Safe Harbor view — keyed-hash pseudonyms (the database's export key), days
from diagnosis, ages over 89 as 90+ — exactly what ``trephine export --deidentify safe-harbor``
writes; roles with identity access get the record's ids and dates. Names, MRNs and birth dates
are never in a frame. Every frame is one row per fact, one column per field (no nested dicts);
units are in a ``unit`` column or in ``DataFrame.attrs["units"]``. Every call that reads
patient records is audited as the account, with its role, client ``notebook`` and view: a
query naming the patients whose records the frame shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from trephine.services.cohorts import Evaluation
    from trephine.store.database import Database, UnitOfWork


#: The client named in every audit event the notebook API writes.
CLIENT = "notebook"


class Connection:
    """A connection to a Trephine database for analysis (see :func:`connect`).

    ``role`` is the account's role, or None for a database without accounts (the embedded
    single-user default, read in the pseudonymised view)."""

    def __init__(self, database: Database, *, user: str, role: str | None) -> None:
        from trephine.access import Permission, Role, allows
        from trephine.present.deidentify import Deidentifier, Level
        from trephine.services.site_secret import deidentifier

        self.database = database
        self.user = user
        self.role = role
        self.identified = role is not None and allows(Role(role), Permission.IDENTITY_READ)
        if self.identified:
            self._deid = Deidentifier(Level.NONE)
        else:
            self._deid = deidentifier(database, Level.SAFE_HARBOR)

    def __repr__(self) -> str:
        role = self.role or "no accounts"
        return f"<trephine.Connection {self.user} ({role}, {self._deid.level} view)>"

    # ------------------------------------------------------------------ internals
    @contextmanager
    def _unit(self) -> Iterator[UnitOfWork]:
        """One transaction as the account: every audit event carries its role and the client
        ``notebook`` (as a web request's carry the role and client address)."""
        with self.database.unit_of_work(self.user) as uow:
            uow.context.update(role=self._role_shown, client=CLIENT)
            yield uow

    @property
    def _role_shown(self) -> str:
        return self.role or "(no accounts)"

    def _audit(self, uow: UnitOfWork, what: str, patients: Iterable[str]) -> None:
        """Record that a frame shows these patients' records (a query naming them)."""
        from trephine.services import audit

        audit.record_read(
            uow,
            f"notebook: {what}",
            patients,
            role=self._role_shown,
            client=CLIENT,
            view="identified" if self.identified else "pseudonymised",
            query=True,
        )

    def _everyone(self, uow: UnitOfWork) -> Evaluation:
        """Every patient with a diagnosis (time zero: the first)."""
        from trephine.domain.cohort import CohortDefinition
        from trephine.services.cohorts import Cohort, Evaluation, as_date, member_query

        rows = uow.session.execute(member_query(uow, CohortDefinition())).all()
        members = tuple(r[0] for r in rows)
        cohort = Cohort("(all)", 0, CohortDefinition(), None, self.user, uow.now())
        return Evaluation(
            cohort, self.user, uow.now(), members, {r[0]: as_date(r[1]) for r in rows}
        )

    def _tables(self, what: str, cohort: str | None) -> dict[str, list[dict[str, Any]]]:
        from trephine.services import cohorts, exports

        with self._unit() as uow:
            ev = cohorts.evaluate(uow, cohort) if cohort else self._everyone(uow)
            self._audit(
                uow, f"{what} of {f'cohort {cohort}' if cohort else 'all patients'}", ev.members
            )
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
        return self._frame(self._tables("patients", cohort).get("patients", []))

    def results(self, kind: str | None = None, cohort: str | None = None) -> pd.DataFrame:
        """One row per result value (field, value or value_text, unit, qualifier, LOD, LLOQ) of
        the current version of every result; ``kind`` keeps one result kind (``flow_mrd``)."""
        rows = self._tables("results", cohort).get("results", [])
        if kind is not None:
            rows = [r for r in rows if r["kind"] == kind]
        return self._frame(rows)

    def assessments(self, cohort: str | None = None, call_kind: str | None = None) -> pd.DataFrame:
        """One row per stored criteria call, history included (call kind, the sample of an
        MRD call, category, ``current`` — true for the calls the patient's pages show now —
        revision, rule set, edition, version)."""
        rows = self._tables("assessments", cohort).get("assessments", [])
        if call_kind is not None:
            rows = [r for r in rows if r["call_kind"] == call_kind]
        return self._frame(rows)

    def variants(self, cohort: str | None = None, gene: str | None = None) -> pd.DataFrame:
        """One row per stored sequencing variant (gene, HGVS, VAF with its unit, depth)."""
        rows = self._tables("variants", cohort).get("variants", [])
        if gene is not None:
            rows = [r for r in rows if r["gene"] == gene]
        return self._frame(rows)

    def define(self, name: str, **criteria: Any) -> int:
        """Save a cohort definition (the options of ``trephine cohort define`` as keywords:
        ``diseases=["AML"], genes=["FLT3"], mrd="negative", mrd_day=90``); returns its version."""
        from trephine.domain.cohort import CohortDefinition
        from trephine.services import cohorts

        definition = CohortDefinition.from_json(criteria)
        with self._unit() as uow:
            saved, _ = cohorts.define(uow, name, definition)
        return saved.version

    def cohort(self, name: str) -> pd.DataFrame:
        """The saved cohort evaluated now (kept): one row per member with its time zero;
        ``attrs`` hold the name, version and definition."""
        from trephine.services import cohorts

        with self._unit() as uow:
            ev = cohorts.evaluate(uow, name)
            self._audit(uow, f"members of cohort {name}", ev.members)
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

        with self._unit() as uow:
            ev = cohorts.evaluate(uow, name)
            rows = landmark_rows(research.courses(uow, ev), day=day, window=window)
            self._audit(uow, f"landmark rows of cohort {name}", ev.members)
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


def connect(
    url: str | None = None, *, user: str | None = None, token: str | None = None
) -> Connection:
    """Open a Trephine database for analysis as an account, found as the CLI finds its own.

    ``token`` (default ``TREPHINE_TOKEN``): an API token from ``trephine tokens create``, which
    proves who is acting (its use is audited). ``user`` (default ``TREPHINE_USER``): an enabled
    account's name; with a token it may only repeat the token's account. Once the database has
    accounts one of them is required ("NotAuthenticated" otherwise, as for a wrong token) and
    its role must grant ``records:read`` ("Forbidden"). A database without accounts (the
    embedded single-user default) is read as ``TREPHINE_CLI_USER`` in the pseudonymised view
    (Safe Harbor, keyed with the database's export key: ``TREPHINE_EXPORT_KEY`` when set, else
    the database's own secret), as the CLI reads it."""
    from trephine.access import Permission
    from trephine.domain.actor import check_actor
    from trephine.errors import Forbidden, NotAuthenticated, ValidationError
    from trephine.services import accounts, open_database
    from trephine.settings import get_settings

    settings = get_settings()
    name = user if user is not None else settings.user
    secret = (
        token
        if token is not None
        else (settings.token.get_secret_value() if settings.token is not None else None)
    )
    database = open_database(url)
    try:
        with database.unit_of_work(CLIENT) as uow:
            uow.context.update(client=CLIENT)
            found = accounts.acting_principal(
                uow, Permission.RECORDS_READ, user=name, token=secret, client=CLIENT
            )
            if found is None:  # no accounts: the embedded single-user default
                actor = check_actor((name or settings.cli_user).strip(), "user")
                return Connection(database, user=actor, role=None)
    except Exception:
        database.dispose()
        raise
    if isinstance(found, accounts.AccountRefused):
        database.dispose()
        Refusal, who = accounts.Refusal, found.principal
        if found.refusal is Refusal.NOT_GRANTED and who is not None:
            raise Forbidden(Permission.RECORDS_READ.value, str(who.role))
        if found.refusal is Refusal.NOT_THE_TOKENS_ACCOUNT and who is not None:
            raise ValidationError("user", found.name, f"the token's account, {who.name}")
        if found.refusal is Refusal.UNKNOWN_TOKEN:
            raise NotAuthenticated("the API token is unknown, expired or revoked")
        if found.refusal is Refusal.NOT_AN_ACCOUNT:
            raise NotAuthenticated(f"user {found.name!r} is not an enabled account")
        raise NotAuthenticated(
            "this database has accounts: connect as one, with user= (or "
            "TREPHINE_USER) naming your account or token= (or TREPHINE_TOKEN) "
            "one of your API tokens"
        )
    principal = found
    return Connection(database, user=principal.name, role=str(principal.role))


__all__ = ["Connection", "connect"]
