"""Tiny, valid sample documents generated at run time (for ``ringfax demo`` and tests)."""

from __future__ import annotations

import struct

__all__ = ["make_pdf", "make_tiff"]


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str]) -> bytes:
    """A minimal PDF 1.4 with one line of Helvetica text per page and a correct xref table."""
    if not pages:
        raise ValueError("make_pdf needs at least one page")
    n = len(pages)
    # Object numbers: 1 catalog, 2 pages, 3 font, then (page, content) pairs.
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        stream = f"BT /F1 24 Tf 72 720 Td ({_pdf_escape(text)}) Tj ET".encode("latin-1")
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
                f" /Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
            ).encode()
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def make_tiff(width: int = 64, height: int = 64) -> bytes:
    """A minimal baseline bilevel TIFF (little-endian, uncompressed, one strip, 200 dpi)
    showing a black frame on white."""
    row_bytes = (width + 7) // 8
    rows = bytearray()
    for y in range(height):
        row = bytearray(row_bytes)
        for x in range(width):
            if x in (0, width - 1) or y in (0, height - 1) or x == y:
                row[x // 8] |= 0x80 >> (x % 8)  # WhiteIsZero: 1 = black
        rows += row
    entries = 12
    ifd_offset = 8
    ifd_size = 2 + entries * 12 + 4
    xres_offset = ifd_offset + ifd_size
    yres_offset = xres_offset + 8
    data_offset = yres_offset + 8
    SHORT, LONG, RATIONAL = 3, 4, 5
    tags = [
        (256, SHORT, 1, width),
        (257, SHORT, 1, height),
        (258, SHORT, 1, 1),
        (259, SHORT, 1, 1),
        (262, SHORT, 1, 0),
        (273, LONG, 1, data_offset),
        (277, SHORT, 1, 1),
        (278, SHORT, 1, height),
        (279, LONG, 1, len(rows)),
        (282, RATIONAL, 1, xres_offset),
        (283, RATIONAL, 1, yres_offset),
        (296, SHORT, 1, 2),
    ]
    out = bytearray(b"II" + struct.pack("<HI", 42, ifd_offset))
    out += struct.pack("<H", entries)
    for tag, typ, count, value in tags:
        if typ == SHORT:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += struct.pack("<I", 0)
    out += struct.pack("<II", 200, 1) + struct.pack("<II", 200, 1)
    out += rows
    return bytes(out)
