"""Reading text files that may be gzip/BGZF-compressed, streamed, with a ceiling on expansion.

A small ``.gz`` can expand enormously (a 255 kB ``.maf.gz`` held 256 MiB, and reading it whole
peaked at 5.6 GB). Readers here decompress as they go and count the bytes; past
:data:`MAX_EXPANDED_BYTES` the file is refused with :class:`ImportRejected` before more memory
is spent. Plain (uncompressed) files are streamed too, without the ceiling: their size is what
is on disk.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from trephine.errors import ImportRejected, Issue, Location, Severity

#: The most bytes a compressed variant file (``.vcf.gz``, ``.maf.gz``) may expand to: 512 MiB.
#: A whole-exome MAF of one tumour is a few MiB; a cohort-wide MAF should be split per patient.
#: Pass ``max_expanded_bytes=`` to the readers to change it for one call.
MAX_EXPANDED_BYTES = 512 * 2**20
GZIP_MAGIC = b"\x1f\x8b"


def _refusal(source: str, code: str, message: str) -> ImportRejected:
    return ImportRejected(source, [Issue(Severity.ERROR, code, message, Location(source))])


class _Capped(io.RawIOBase):
    """Decompressed bytes of ``inner``, refused past ``limit``."""

    def __init__(self, inner: gzip.GzipFile, limit: int, source: str) -> None:
        self._inner, self._limit, self._source, self._seen = inner, limit, source, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            n = self._inner.readinto(buffer)
        except (OSError, EOFError, zlib.error) as exc:
            message = f"not a readable gzip file: {exc}"
            raise _refusal(self._source, "compression", message) from None
        self._seen += n
        if self._seen > self._limit:
            raise _refusal(
                self._source,
                "too_large",
                f"expands to more than {self._limit:,} bytes when decompressed (the ceiling, "
                "trephine.io.compressed.MAX_EXPANDED_BYTES); split the file or raise the ceiling",
            )
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


@contextmanager
def open_text(
    path: str | Path, *, max_expanded_bytes: int = MAX_EXPANDED_BYTES
) -> Iterator[io.TextIOWrapper]:
    """A UTF-8 text stream of ``path`` (BOM dropped, any line ending read as ``\\n``),
    decompressed on the fly when the file starts with the gzip magic bytes.

    Raises :class:`ImportRejected` when the file cannot be opened, is a broken gzip stream or
    expands past ``max_expanded_bytes``; a decoding error surfaces as ``UnicodeDecodeError``
    while reading (callers locate it by row).
    """
    source = str(path)
    try:
        raw = Path(path).open("rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise _refusal(source, "read", f"cannot open: {exc.strerror or exc}") from None
    try:
        if raw.read(2) == GZIP_MAGIC:
            raw.seek(0)
            binary: IO[bytes] = io.BufferedReader(
                _Capped(gzip.GzipFile(fileobj=raw, mode="rb"), max_expanded_bytes, source)
            )
        else:
            raw.seek(0)
            binary = raw
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline=None)
        try:
            yield text
        finally:
            text.close()
    finally:
        raw.close()
