"""Documents: which files a fax may carry, their media types, and their page counts.

Extensions and media types are RingCentral's documented fax-able formats
(docs/ringcentral.md §2.3). Page count: PDF -> number of ``/Type /Page`` objects; TIFF ->
number of IFDs; text -> one page per 60 lines; anything else -> one page.
:func:`repair_bare_delimiters` is the lenient-mode repair of a multipart body whose
delimiter lacks its CRLF (docs/ringcentral.md §7).
"""

from __future__ import annotations

import math
import os
import re
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from mimewire import parse_header_params

__all__ = [
    "COVER_PAGES",
    "EXTENSION_TYPES",
    "SUPPORTED_EXTENSIONS",
    "SUPPORTED_MEDIA_TYPES",
    "count_pages",
    "extension_of",
    "media_type_of",
    "repair_bare_delimiters",
]

COVER_PAGES: tuple[str, ...] = (
    "None",
    "Ancient",
    "Birthday",
    "Blank",
    "Clasmod",
    "Classic",
    "Confidential",
    "Contempo",
    "Elegant",
    "Express",
    "Formal",
    "Jazzy",
    "Modern",
    "Urgent",
)
"""English cover page names by index (docs/ringcentral.md §4.8)."""

SUPPORTED_EXTENSIONS = frozenset(
    [
        "pdf",
        "psd",
        "doc",
        "docx",
        "dot",
        "mcw",
        "xls",
        "xlsx",
        "xlsb",
        "ppt",
        "pptx",
        "vsd",
        "vdx",
        "pub",
        "wps",
        "wri",
        "awd",
        "tif",
        "tiff",
        "gif",
        "jpg",
        "jpeg",
        "bmp",
        "png",
        "pcx",
        "tga",
        "rtf",
        "txt",
        "log",
        "h",
        "cpp",
        "c",
        "err",
        "hpp",
        "wk1",
        "wk3",
        "wk4",
        "wq1",
        "xml",
        "html",
        "htm",
        "csv",
    ]
)
"""File extensions RingCentral documents as fax-able (docs/ringcentral.md §2.3)."""

SUPPORTED_MEDIA_TYPES = frozenset(
    {
        "application/pdf",
        "image/tiff",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/bmp",
        "text/plain",
        "text/html",
        "text/csv",
        "text/xml",
        "application/xml",
        "application/rtf",
        "text/rtf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.binary.macroenabled.12",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.visio",
        "application/x-mspublisher",
        "application/vnd.ms-works",
        "image/vnd.adobe.photoshop",
        "image/x-pcx",
        "image/x-tga",
    }
)
"""Media types accepted for attachments without a known file extension (ours, §2.3)."""

EXTENSION_TYPES = {
    "pdf": "application/pdf",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "txt": "text/plain",
    "html": "text/html",
    "htm": "text/html",
    "csv": "text/csv",
    "xml": "application/xml",
    "rtf": "application/rtf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def media_type_of(value: str | None) -> str | None:
    """``type/subtype`` lowercased from a Content-Type value, or None."""
    if not value:
        return None
    main, _ = parse_header_params(value, lenient=True)  # sniffing only
    return main or None


def extension_of(filename: str | None) -> str | None:
    """The lowercased filename extension, or None."""
    if not filename or "." not in filename:
        return None
    ext = filename.rsplit(".", 1)[1].lower()
    return ext or None


def repair_bare_delimiters(chunks: Iterable[bytes], boundary: str) -> Iterator[bytes]:
    """Insert the CRLF RFC 2046 requires before a delimiter where a client left it out.

    ringcentral-extensible writes a Buffer part's bytes directly followed by ``--boundary``
    (docs/ringcentral.md §7). A ``--boundary`` counts as a delimiter when it is followed by
    CRLF, LF, ``--``, space or tab; the very first delimiter of the body is left alone.
    Streaming: holds back fewer than ``len(boundary) + 4`` bytes.
    """
    delim = b"--" + boundary.encode("utf-8", "replace")
    hold = len(delim) + 1
    pending = b""
    before = b""  # the last two bytes already emitted
    emitted = False

    def follows_ok(tail: bytes, final: bool) -> bool:
        if len(tail) < 2 and not final:
            return True
        return tail[:2] in (b"\r\n", b"--") or tail[:1] in (b"\n", b" ", b"\t", b"")

    def process(data: bytes, final: bool) -> tuple[bytes, bytes]:
        nonlocal before, emitted
        out = bytearray()
        pos = 0
        while True:
            i = data.find(delim, pos)
            if i < 0 or (not final and i + len(delim) + 2 > len(data)):
                break
            prev = data[max(0, i - 2) : i]
            if i < 2:
                prev = (before + prev)[-2:]
            at_start = not emitted and not out and i == 0
            needs_crlf = (
                not at_start
                and not prev.endswith(b"\n")
                and follows_ok(data[i + len(delim) : i + len(delim) + 2], final)
            )
            out += data[pos:i]
            if needs_crlf:
                out += b"\r\n"
            out += delim
            pos = i + len(delim)
        cut = len(data) if final else max(pos, len(data) - hold)
        if not final:
            j = data.find(delim, pos)
            if 0 <= j < cut:
                cut = j
        out += data[pos:cut]
        if out:
            before = (before + bytes(out[-2:]))[-2:]
            emitted = True
        return bytes(out), data[cut:]

    for chunk in chunks:
        if not chunk:
            continue
        out, pending = process(pending + chunk, False)
        if out:
            yield out
    out, _ = process(pending, True)
    if out:
        yield out


# -- page counting ----------------------------------------------------------------------------

_PDF_PAGE = re.compile(rb"/Type\s*/Page(?=[^A-Za-z0-9])")


def _count_pdf(path: Path) -> int:
    count = 0
    carry = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            window = carry + chunk
            for m in _PDF_PAGE.finditer(window):
                if m.end() >= len(carry):
                    count += 1
            carry = window[-64:]
    return max(1, count)


def _count_tiff(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8 or head[:2] not in (b"II", b"MM"):
            return 1
        order = "<" if head[:2] == b"II" else ">"
        (offset,) = struct.unpack(order + "I", head[4:8])
        size = os.fstat(fh.fileno()).st_size
        pages = 0
        seen: set[int] = set()
        while offset and offset not in seen and offset + 2 <= size and pages < 100000:
            seen.add(offset)
            fh.seek(offset)
            raw = fh.read(2)
            if len(raw) < 2:
                break
            (entries,) = struct.unpack(order + "H", raw)
            fh.seek(offset + 2 + 12 * entries)
            nxt = fh.read(4)
            pages += 1
            if len(nxt) < 4:
                break
            (offset,) = struct.unpack(order + "I", nxt)
        return max(1, pages)


def count_pages(path: Path, content_type: str, filename: str | None) -> int:
    """Estimate the fax pages of a stored document (see the module docstring)."""
    ext = extension_of(filename)
    try:
        if content_type == "application/pdf" or ext == "pdf":
            return _count_pdf(path)
        if content_type == "image/tiff" or ext in ("tif", "tiff"):
            return _count_tiff(path)
        if content_type.startswith("text/") or ext in ("txt", "log", "csv"):
            lines = 0
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    lines += chunk.count(b"\n")
            return max(1, math.ceil((lines + 1) / 60))
    except OSError:
        return 1
    return 1
