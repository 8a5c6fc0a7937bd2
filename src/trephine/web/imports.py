"""Import in the browser (role ``lab``): upload, see the dry run with every located error, confirm.

The upload is an XLSX workbook of the clinical template or a zip of its CSV files. It is kept
server-side (a private temporary folder, never under the web root) between the dry run and the
confirmation, for the user who uploaded it only and for :data:`PENDING_MINUTES` at most; the
confirmation runs the same importer again for real — all or nothing, as ``trephine import``.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from trephine.errors import ImportRejected, ParseError, Severity, TrephineError, ValidationError

#: How long an uploaded file waits for its confirmation.
PENDING_MINUTES = 30
#: Largest upload accepted (bytes) and largest total of the CSV files inside a zip.
MAX_UPLOAD = 20 * 1024 * 1024
MAX_UNZIPPED = 100 * 1024 * 1024
MAX_MEMBERS = 50


@dataclass(frozen=True)
class Pending:
    token: str
    user: str
    filename: str
    folder: Path
    #: What the importer reads: the workbook, or the folder of CSV files.
    target: Path
    created: dt.datetime


@dataclass(frozen=True)
class Outcome:
    """What a dry run or an import found, ready for the page."""

    filename: str
    created: dict[str, int]
    unchanged: int
    #: Located errors (file, row, column: message); empty when the file can be imported.
    errors: list[str]
    warnings: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


class PendingUploads:
    """Uploads waiting for their confirmation (one process; lost on restart, by design)."""

    def __init__(self) -> None:
        self._items: dict[str, Pending] = {}
        self._lock = threading.Lock()

    def add(self, user: str, filename: str, data: bytes) -> Pending:
        self.expire()
        folder = Path(tempfile.mkdtemp(prefix="trephine-upload-"))
        folder.chmod(0o700)
        try:
            target = _unpack(filename, data, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        item = Pending(
            secrets.token_urlsafe(24), user, filename, folder, target, dt.datetime.now(dt.UTC)
        )
        with self._lock:
            self._items[item.token] = item
        return item

    def take(self, token: str, user: str) -> Pending:
        """The upload ``token`` of ``user`` (removed from the waiting list)."""
        self.expire()
        with self._lock:
            item = self._items.get(token)
            if item is None or item.user != user:
                raise ValidationError(
                    "upload", "(expired or unknown)", "a file uploaded in the last 30 minutes"
                )
            del self._items[token]
        return item

    def discard(self, item: Pending) -> None:
        shutil.rmtree(item.folder, ignore_errors=True)

    def expire(self) -> None:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=PENDING_MINUTES)
        with self._lock:
            old = [t for t, i in self._items.items() if i.created < cutoff]
            gone = [self._items.pop(t) for t in old]
        for item in gone:
            self.discard(item)


def _unpack(filename: str, data: bytes, folder: Path) -> Path:
    """Write the upload into ``folder``; a zip gives its CSV files (flat names only)."""
    name = PurePosixPath(filename.replace("\\", "/")).name or "upload"
    suffix = PurePosixPath(name).suffix.lower()
    if len(data) > MAX_UPLOAD:
        raise ValidationError("file", name, f"at most {MAX_UPLOAD // (1024 * 1024)} MB")
    if suffix in (".xlsx", ".xlsm"):
        target = folder / f"upload{suffix}"
        target.write_bytes(data)
        return target
    if suffix != ".zip":
        raise ValidationError("file", name, "an .xlsx workbook or a .zip of the CSV template")
    csv_dir = folder / "csv"
    csv_dir.mkdir()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ParseError(f"{name}: not a readable zip file") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        csvs = [m for m in members if m.filename.lower().endswith(".csv")]
        if len(members) > MAX_MEMBERS:
            raise ValidationError("file", name, f"a zip of at most {MAX_MEMBERS} files")
        if not csvs:
            raise ValidationError("file", name, "a zip holding the template's .csv files")
        if sum(m.file_size for m in csvs) > MAX_UNZIPPED:
            raise ValidationError(
                "file", name, f"at most {MAX_UNZIPPED // (1024 * 1024)} MB of CSV unzipped"
            )
        seen: set[str] = set()
        for m in csvs:
            # Only the base name is used: no member can write outside the folder.
            base = PurePosixPath(m.filename.replace("\\", "/")).name
            if base in seen:
                raise ValidationError("file", f"{name}: {base}", "each sheet's CSV once")
            seen.add(base)
            (csv_dir / base).write_bytes(archive.read(m))
    return csv_dir


def _located(text: str, item: Pending) -> str:
    """An issue's location without the private folder (the user knows the file they sent)."""
    for prefix in (str(item.target) + "/", str(item.target), str(item.folder) + "/"):
        text = text.replace(prefix, "")
    return text


def run(database: object, item: Pending, actor: str, *, dry_run: bool) -> Outcome:
    """The importer on the upload (``dry_run``: check everything, write nothing)."""
    from trephine.importers.clinical import import_paths

    try:
        report = import_paths(database, [item.target], actor, dry_run=dry_run)
    except ImportRejected as exc:
        errors = [
            _located(f"{i.location}: {i.message}", item)
            for i in exc.issues
            if i.severity is Severity.ERROR
        ]
        warnings = [
            _located(f"{i.location}: {i.message}", item)
            for i in exc.issues
            if i.severity is not Severity.ERROR
        ]
        return Outcome(item.filename, {}, 0, errors, warnings)
    except TrephineError as exc:
        return Outcome(item.filename, {}, 0, [_located(str(exc), item)], [])
    return Outcome(
        item.filename,
        dict(report.created),
        sum(report.unchanged.values()),
        [],
        [_located(f"{i.location}: {i.message}", item) for i in report.warnings],
    )
