"""The ``ringfax`` commands around the local emulator: ``emulator``, ``emulator inject``,
``demo``."""

from __future__ import annotations

import argparse
import io
import json
import mimetypes
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimewire import MultipartBody, Part

from .._client import FaxClient
from .._inbox import Inbox
from .._models import FaxMessage, Recipient
from .common import (
    EXIT_API,
    EXIT_OK,
    CommandFailed,
    UsageProblem,
    describe,
    emit,
    exit_for,
    message_dict,
    server_url,
    status_text,
    unreachable_hint,
)
from .send import Follow

if TYPE_CHECKING:
    from ..emulator import Emulator

INBOUND_FAX_PATH = "/emulator/v1/inbound-fax"


def cmd_emulator(args: argparse.Namespace) -> int:
    """``ringfax emulator``: the emulator's own command (:mod:`ringfax.emulator._main`)."""
    from ..emulator._main import serve

    return serve(args, args.stdout, args.stderr)


# -- inject ------------------------------------------------------------------------------------


def inbound_fax_body(
    from_number: str, to_number: str | None, subject: str | None, files: list[Path]
) -> tuple[bytes, str]:
    """The ``POST /emulator/v1/inbound-fax`` form: ``(body, content type)``."""
    parts = [Part(from_number, name="from")]
    if to_number:
        parts.append(Part(to_number, name="to"))
    if subject:
        parts.append(Part(subject, name="subject"))
    for path in files:
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts.append(
            Part(path.read_bytes(), name="attachment", filename=path.name, content_type=ctype)
        )
    body = MultipartBody(parts, subtype="form-data")
    return b"".join(body), body.content_type


def cmd_inject(args: argparse.Namespace) -> int:
    server = server_url(args)
    if not server:
        raise UsageProblem(
            "missing configuration: --server / RC_SERVER_URL (the emulator's URL, printed by "
            "`ringfax emulator`)"
        )
    files = [Path(f) for f in args.files]
    for path in files:
        if not path.is_file():
            raise UsageProblem(f"file {str(path)!r} does not exist or is not a regular file")
    try:
        body, ctype = inbound_fax_body(args.from_number, args.to_number, args.subject, files)
    except OSError as exc:
        raise UsageProblem(f"cannot read {exc.filename}: {exc.strerror or exc}") from None
    url = server.rstrip("/") + INBOUND_FAX_PATH
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data: Any = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read(4096).decode("utf-8", "replace").strip()
        if exc.code == 404:
            raise CommandFailed(
                f"{server} has no {INBOUND_FAX_PATH}: inject works only with a ringfax emulator"
            ) from None
        raise CommandFailed(
            f"the emulator refused the fax: HTTP {exc.code}: {_error_text(detail)}"
        ) from None
    except urllib.error.URLError as exc:
        raise CommandFailed(
            f"cannot reach {server}: {exc.reason}\n{unreachable_hint(server)}"
        ) from None
    except ValueError as exc:
        raise CommandFailed(f"unreadable answer from {url}: {exc}") from None
    msg = FaxMessage.from_json(data if isinstance(data, dict) else {})

    def text() -> None:
        sender = msg.from_.phone_number if msg.from_ else args.from_number
        print(
            f"inbound fax {msg.id} from {sender} is waiting: "
            f"`ringfax receive --to-dir DIR` fetches it",
            file=args.stdout,
        )

    emit(args, message_dict(msg), text if not args.quiet else lambda: None)
    return EXIT_OK


def _error_text(body: str) -> str:
    """The ``message`` of a RingCentral error body, else the body itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    message = data.get("message") if isinstance(data, dict) else None
    code = data.get("errorCode") if isinstance(data, dict) else None
    if isinstance(message, str):
        return f"{code}: {message}" if isinstance(code, str) else message
    return body


# -- demo --------------------------------------------------------------------------------------


class _Discard(io.StringIO):
    """``demo -q``: the narration goes nowhere (without growing in memory)."""

    def write(self, text: str) -> int:
        return len(text)


def cmd_demo(args: argparse.Namespace) -> int:
    from .._transport import _urllib3
    from ..emulator import Emulator, EmulatorConfig
    from ..emulator._samples import make_pdf, make_tiff

    _urllib3()  # without the `fax` extra, say so before starting anything
    stdout = args.stdout
    if args.quiet:
        args.stdout = _Discard()
    out = args.stdout
    config = EmulatorConfig(send_delay=args.send_delay, page_delay=0.0, delivered=False)
    with tempfile.TemporaryDirectory(prefix="ringfax-demo-") as tmp_name:
        tmp = Path(tmp_name)
        with Emulator(tmp / "emulator", config=config) as emu:
            print(f"emulator running on {emu.url} (temporary data dir)", file=out)
            pdf = tmp / "letter.pdf"
            pdf.write_bytes(
                make_pdf(["ringfax demo: page 1 of the letter", "page 2 of the letter"])
            )
            tiff = tmp / "scan.tiff"
            tiff.write_bytes(make_tiff())
            print(f"generated {pdf.name} ({pdf.stat().st_size} bytes, 2 pages)", file=out)
            print(f"generated {tiff.name} ({tiff.stat().st_size} bytes, 1 page)", file=out)
            with FaxClient(
                emu.url, client_id=emu.client_id, client_secret=emu.client_secret, jwt=emu.jwt
            ) as client:
                final = _demo_send(args, client, pdf, tiff, tmp)
                if final is None:
                    print(
                        "error: a downloaded document differs from the original", file=args.stderr
                    )
                    return EXIT_API
                _demo_receive_forward(args, emu, client, tiff, tmp)
                if args.json:
                    print(json.dumps(message_dict(final), indent=2), file=stdout)
        print("emulator stopped", file=out)
    return exit_for(final)


def _demo_send(
    args: argparse.Namespace, client: FaxClient, pdf: Path, tiff: Path, tmp: Path
) -> FaxMessage | None:
    out = args.stdout
    recipients = [Recipient("+16505550123", "Jane Doe"), Recipient("+16505550199", "Bob")]
    msg = client.send_fax(
        recipients,
        [str(pdf), str(tiff)],
        cover_index=5,
        cover_page_text="ringfax demo",
        resolution="High",
    )
    print(
        f"sent fax {msg.id} to {len(recipients)} recipients: {status_text(msg.message_status)}",
        file=out,
    )
    final = _demo_wait(args, client, msg.id)
    print("final state:", file=out)
    describe(final, out)
    originals = {"letter.pdf": pdf, "scan.tiff": tiff}
    downloads = tmp / "downloads"
    downloads.mkdir()
    for att in final.attachments:
        target = downloads / (att.filename or att.id)
        client.download(final.id, att.id, target)
        source = originals.get(att.filename or "")
        same = source is not None and source.read_bytes() == target.read_bytes()
        verdict = "identical to the original" if same else "DIFFERENT from the original"
        print(f"downloaded {att.filename}: {target.stat().st_size} bytes, {verdict}", file=out)
        if not same:
            return None
    return final


def _demo_wait(args: argparse.Namespace, client: FaxClient, message_id: str) -> FaxMessage:
    watcher = Follow(args, quiet=False)
    watcher.out = args.stdout
    return client.wait_for_fax(
        message_id,
        timeout=max(30.0, args.send_delay * 10),
        poll=max(0.1, args.send_delay / 4),
        on_update=watcher,
    )


def _demo_receive_forward(
    args: argparse.Namespace, emu: Emulator, client: FaxClient, tiff: Path, tmp: Path
) -> None:
    out = args.stdout
    emu.inject_inbound_fax(
        from_number="+16505550150",
        documents=[("incoming.tiff", "image/tiff", tiff.read_bytes())],
        subject="ringfax demo: a received fax",
    )
    print("a fax arrives from +16505550150 (injected into the emulator)", file=out)
    inbox = tmp / "inbox"
    (fax,) = Inbox(client, inbox, mark_read=True).sync()
    print(f"receive: fax {fax.message.id} saved as {fax.files[0].name}", file=out)
    again = Inbox(client, inbox).sync()
    print(f"receive again: {len(again)} new fax(es) (nothing is downloaded twice)", file=out)
    forwarded = client.resend_fax(fax.message.id, [Recipient("+16505550123", "Jane Doe")])
    print(f"forwarded fax {fax.message.id} as fax {forwarded.id}", file=out)
    final = _demo_wait(args, client, forwarded.id)
    print(f"forward: {status_text(final.message_status)}", file=out)
