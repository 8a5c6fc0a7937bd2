"""The one error tree of Trephine.

Every error a user can cause is a :class:`TrephineError` carrying typed, located fields so that
the CLI, the API and importers can say *where* and *what* without parsing messages.
Severity-tagged :class:`Issue` records are what parsers and importers collect before deciding
that a file imports whole or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class TrephineError(Exception):
    """Base of every error Trephine raises on purpose."""


def option(name: str) -> str:
    """How a message below the front ends names a choice its caller makes: the domain field
    (``memory_limit``, ``allow_missing_depth``) in backquotes, never a command-line flag.

    Each front end shows the marked name its own way: the CLI as the option the user types
    (``cli/common.FLAGS``, applied by ``cli.common.message``); elsewhere it reads as the field.
    """
    return f"`{name}`"


@dataclass(frozen=True)
class Location:
    """Where something was found: a file, a row/column, a byte offset, a field path."""

    source: str | None = None
    row: int | None = None
    column: str | None = None
    offset: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.source:
            parts.append(self.source)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        return ", ".join(parts) if parts else "<unknown location>"


class ValidationError(TrephineError, ValueError):
    """A value is not allowed. Names the field, the value and what is allowed."""

    def __init__(
        self,
        field: str,
        value: object,
        allowed: str | Iterable[object] | None = None,
        *,
        location: Location | None = None,
        reason: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.allowed = (
            allowed if allowed is None or isinstance(allowed, str) else ", ".join(map(str, allowed))
        )
        self.location = location
        self.reason = reason
        # Text is quoted so blanks and padding show; numbers are shown as written
        # (``140``, not ``Decimal('140')``).
        shown = repr(value) if isinstance(value, str) else str(value)
        # No value at all is "required", not "None is not allowed" (a Python word for a user).
        msg = (
            f"{field}: a value is required" if value is None else f"{field}: {shown} is not allowed"
        )
        if reason:
            msg += f" ({reason})"
        if self.allowed:
            msg += f"; allowed: {self.allowed}"
        if location is not None:
            msg = f"{location}: {msg}"
        super().__init__(msg)


class ParseError(TrephineError, ValueError):
    """A file could not be read. Names the source and where in it."""

    def __init__(self, message: str, *, location: Location | None = None) -> None:
        self.location = location
        self.message = message
        super().__init__(f"{location}: {message}" if location is not None else message)


class IllegalTransition(TrephineError):
    """A lifecycle transition the workflow does not allow (e.g. editing a signed-out result)."""

    def __init__(self, entity: str, from_state: str, to_state: str, reason: str = "") -> None:
        self.entity = entity
        self.from_state = from_state
        self.to_state = to_state
        msg = f"{entity}: cannot go from {from_state!r} to {to_state!r}"
        super().__init__(f"{msg}: {reason}" if reason else msg)


class ConcurrentChange(IllegalTransition):
    """Another user changed the record between this transaction reading it and writing it.

    An :class:`IllegalTransition` (the move is not allowed from the state the record is really in
    now), kept distinct so callers can say "changed by someone else at the same time; nothing was
    written, reload and retry" rather than blame the workflow rules.
    """

    def __init__(
        self, entity: str, action: str, read_state: str, current_state: str, to_state: str
    ) -> None:
        super().__init__(entity, current_state, to_state)
        self.action = action
        self.read_state = read_state
        self.args = (
            f"{entity}: {action} refused: it was {read_state!r} when read, but another user "
            f"changed it to {current_state!r} meanwhile",
        )


class NotFound(TrephineError, LookupError):
    """A record that was asked for does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class Conflict(TrephineError):
    """A record with the same natural key already exists with different content."""

    def __init__(self, kind: str, key: object, field: str, existing: object, new: object) -> None:
        self.kind = kind
        self.key = key
        self.field = field
        self.existing = existing
        self.new = new
        super().__init__(
            f"{kind} {key!r} is already recorded with {field}={existing!r}, not {new!r}"
        )


class IdentityConflict(Conflict):
    """A patient's identifying data (name, MRN, birth date) contradicts what is recorded.

    The message names the patient being written and the field, never the values: echoing a
    stored name, or which research id holds an MRN, would disclose identity to whoever ran the
    import (a dry run included) without an audited read.
    """

    def __init__(self, key: object, field: str, reason: str) -> None:
        Conflict.__init__(self, "patient identity", key, field, None, None)
        self.args = (f"patient identity of {key!r}: {field} {reason} (values not shown)",)


class NotAuthenticated(TrephineError):
    """Nobody is signed in (or the session or token is expired, revoked or unknown)."""

    def __init__(self, reason: str = "sign in first") -> None:
        self.reason = reason
        super().__init__(reason)


class Forbidden(TrephineError):
    """The signed-in user's role does not grant what was asked (names the permission only)."""

    def __init__(self, permission: str, role: str) -> None:
        self.permission = permission
        self.role = role
        super().__init__(f"the {role} role does not have the {permission!r} permission")


class TooManyAttempts(TrephineError):
    """Sign-in refused for a while after repeated failures; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-ins; try again in {retry_after} seconds")


class AlreadyDone(Conflict):
    """An action recorded once (acknowledging an alert) was already taken, by whoever took it.

    A :class:`Conflict` (same handling at the edges) whose message says who did it and when,
    instead of comparing the stored actor with the new one (which may be the same name).
    """

    def __init__(self, kind: str, key: object, action: str, by: str | None, at: object) -> None:
        super().__init__(kind, key, f"{action}_by", by, None)
        self.action = action
        self.at = at
        when = at.isoformat(timespec="seconds") if isinstance(at, dt.datetime) else str(at)
        self.args = (
            f"{kind} {key!r} was already {action} by {by!r} at {when}; it is recorded once",
        )


class CriteriaNotApplicable(TrephineError):
    """A criteria set was asked about a case it does not cover."""


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Issue:
    """One located finding of a parser or importer."""

    severity: Severity
    code: str
    message: str
    location: Location = field(default_factory=Location)

    def __str__(self) -> str:
        return f"{self.severity}: {self.location}: {self.message} [{self.code}]"


class ImportRejected(TrephineError):
    """A file was refused as a whole; nothing from it was written."""

    def __init__(self, source: str, issues: Sequence[Issue]) -> None:
        self.source = source
        self.issues = list(issues)
        errors = [i for i in self.issues if i.severity is Severity.ERROR]
        head = f"{source}: rejected, nothing imported ({len(errors)} error(s))"
        body = "\n".join(f"  {i}" for i in errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{head}\n{body}{more}")


class TrephineWarning(UserWarning):
    """Base of the warnings Trephine emits (e.g. a tolerated file quirk)."""


class FileQuirkWarning(TrephineWarning):
    """A file deviates from its standard in a known way that Trephine tolerated."""
