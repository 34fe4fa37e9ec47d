"""FaxClient.get_faxes: the bulk read (``GET …/message-store/{id1},{id2},…``, 207 Multi-Status
as ``multipart/mixed``) against the emulator over real HTTP, and malformed answers through a
scripted transport."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _scripted_server import Recorder, fax_json, json_response, scripted_client

from mimewire import MultipartBody, Part
from ringfax import (
    APIError,
    AsyncFaxClient,
    Attachment,
    FaxClient,
    FaxMessage,
    NotFound,
    Request,
    Response,
    ValidationError,
)
from ringfax._messages import BULK_READ_MAX_IDS
from ringfax.emulator import Emulator, EmulatorConfig, ManualClock

PDF = b"%PDF-1.4\n% bulk read test document\n"


# ------------------------------------------------------------------ against the emulator


@pytest.mark.network
def test_bulk_read_against_the_emulator(tmp_path: Path) -> None:
    clock = ManualClock()
    config = EmulatorConfig(rate_limiting=False, send_delay=30.0)
    with Emulator(tmp_path / "data", config=config, clock=clock) as emu:
        client = FaxClient(
            emu.url,
            client_id=emu.client_id,
            client_secret=emu.client_secret,
            jwt=emu.jwt,
            clock=clock.now,
            sleep=clock.sleep,
        )
        with client:
            doc = Attachment(PDF, filename="a.pdf")
            sent = [client.send_fax(f"+1650555010{n}", [doc]) for n in range(3)]
            ids = [fax.id for fax in sent]
            found = client.get_faxes([*ids, "999999999", ids[0]])
            assert list(found) == [*ids, "999999999"]
            for ident in ids:
                message = found[ident]
                assert isinstance(message, FaxMessage) and message.id == ident
                assert message.direction == "Outbound"
            missing = found["999999999"]
            assert isinstance(missing, NotFound) and missing.status == 404

            single = client.get_faxes([int(ids[1])])
            assert list(single) == [ids[1]] and isinstance(single[ids[1]], FaxMessage)
            lone_missing = client.get_faxes(["999999998"])
            assert isinstance(lone_missing["999999998"], NotFound)

            async def read_async() -> dict[str, FaxMessage | APIError]:
                return await AsyncFaxClient(client=client).get_faxes(iter(ids[:2]))

            assert list(asyncio.run(read_async())) == ids[:2]


# ------------------------------------------------------------------ scripted answers


def multi_status(
    items: list[tuple[int, Any]],
    *,
    summary: Any = None,
    part_type: str = "application/json",
    extra_parts: int = 0,
) -> Response:
    """A 207 multipart/mixed answer: the response[] part, then one part per item."""
    entries = [
        {"href": f"https://platform.example.test/message-store/{n}", "status": st}
        for n, (st, _) in enumerate(items)
    ]
    first = {"response": entries} if summary is None else summary
    bodies = [b if isinstance(b, bytes) else json.dumps(b).encode() for _, b in items]
    bodies += [b"{}"] * extra_parts
    parts = [Part(json.dumps(first).encode(), content_type="application/json")]
    parts += [Part(b, content_type=part_type) for b in bodies]
    body = MultipartBody(parts, subtype="mixed")
    return Response(207, {"Content-Type": body.content_type}, b"".join(body))


def requested_ids(request: Request) -> list[str]:
    last = urllib.parse.urlsplit(request.url).path.rsplit("/", 1)[1]
    return [urllib.parse.unquote(i) for i in last.split(",")]


def test_one_request_per_batch_of_ids() -> None:
    total = BULK_READ_MAX_IDS + 1

    def answer(request: Request) -> Response:
        ids = requested_ids(request)
        if len(ids) == 1:
            return json_response(fax_json(int(ids[0])))
        return multi_status([(200, fax_json(int(i))) for i in ids])

    rec = Recorder(answer, answer)
    client = scripted_client(rec)
    found = client.get_faxes(range(1, total + 1))
    assert list(found) == [str(n) for n in range(1, total + 1)]
    assert all(isinstance(m, FaxMessage) and m.id == k for k, m in found.items())
    assert [len(requested_ids(r)) for r in rec.requests] == [BULK_READ_MAX_IDS, 1]
    assert all(r.method == "GET" for r in rec.requests)


def test_per_id_errors_are_values() -> None:
    error = {"errorCode": "CMN-102", "message": "Resource for parameter [messageId] is not found"}
    rec = Recorder(multi_status([(200, fax_json(1)), (404, error), (403, {"message": "no"})]))
    found = scripted_client(rec).get_faxes(["1", "2", "3"])
    assert isinstance(found["1"], FaxMessage)
    missing = found["2"]
    assert isinstance(missing, NotFound) and missing.error_code == "CMN-102"
    assert isinstance(found["3"], APIError) and found["3"].status == 403


def test_the_answer_is_read_streaming_up_to_the_close_delimiter() -> None:
    whole = multi_status([(200, fax_json(1)), (200, fax_json(2))])
    data = whole.read()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 7):
            yield data[start : start + 7]
        raise AssertionError("read past the close delimiter")

    answer = Response(207, whole.headers, chunks())
    found = scripted_client(Recorder(answer)).get_faxes(["1", "2"])
    assert [m.id for m in found.values() if isinstance(m, FaxMessage)] == ["1", "2"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            lambda: multi_status([(200, fax_json(1))]),
            r"part 0 lists 1 responses for 2 ids requested",
        ),
        (
            lambda: multi_status(
                [(200, fax_json(1))],
                summary={"response": [{"status": 200}, {"status": 200}]},
            ),
            r"2 parts, expected 3",
        ),
        (
            lambda: multi_status([(200, fax_json(1)), (200, fax_json(2))], extra_parts=1),
            r"part 3 is beyond the 2 ids",
        ),
        (
            lambda: multi_status([(200, fax_json(1)), (200, b"{not json")]),
            r"part 2: unreadable JSON",
        ),
        (
            lambda: multi_status([(200, fax_json(1)), (200, [1, 2])]),
            r"part 2 is not a JSON object",
        ),
        (
            lambda: multi_status([(200, fax_json(1)), (200, fax_json(2))], part_type="text/html"),
            r"part 1 has Content-Type 'text/html', not JSON",
        ),
        (
            lambda: multi_status([], summary={"records": []}),
            r"part 0 has no response\[\] list",
        ),
        (
            lambda: json_response([fax_json(1), fax_json(2)]),
            r"expected 207 multipart/mixed, got 200 'application/json",
        ),
        (
            lambda: Response(
                207,
                {"Content-Type": "multipart/mixed; boundary=xyz"},
                b"--xyz\r\nContent-Type: application/json\r\n\r\n"
                + json.dumps({"response": [{"status": 200}, {"status": 200}]}).encode()
                + b'\r\n--xyz\r\nContent-Type: application/json\r\n\r\n{"id": 1',
            ),
            r"malformed multipart at part 1",
        ),
    ],
)
def test_malformed_answers_raise_naming_the_part(answer: Any, message: str) -> None:
    client = scripted_client(Recorder(answer()))
    with pytest.raises(APIError, match=message):
        client.get_faxes(["1", "2"])


def test_ids_are_checked() -> None:
    client = scripted_client(Recorder())
    with pytest.raises(ValidationError, match="comma"):
        client.get_faxes(["1,2"])
    with pytest.raises(ValidationError, match="not a single id"):
        client.get_faxes("12")  # type: ignore[arg-type]
    assert client.get_faxes([]) == {}
