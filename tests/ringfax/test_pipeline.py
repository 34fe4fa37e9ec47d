"""The request pipeline's inputs: the rate-limit group a call names, one FaxRequest value for
every way of sending, one "is it settled?" rule, and the async wait's own clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _scripted_server import FakeClock, Recorder, fax_json, json_response, scripted_client

from ringfax import AsyncFaxClient, FaxClient, FaxMessage, FunctionTransport, WaitTimeout
from ringfax._faxbody import FaxRequest
from ringfax._models import is_settled

BOUNDARY = "b0undary"


def _pdf(tmp_path: Path) -> Path:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4 test")
    return path


def test_the_rate_limit_group_comes_from_the_call_not_from_the_url() -> None:
    """A server URL whose path contains ``/content/`` must not make every call a download:
    an exhausted read group does not hold up a message-store change (Medium)."""
    clock = FakeClock()
    exhausted = {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Window": "30"}
    recorder = Recorder(json_response(fax_json(), headers=exhausted), json_response(fax_json()))
    client = FaxClient(
        "https://proxy.example.test/content/rc",
        access_token="t",
        transport=FunctionTransport(recorder),
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 0.0,
    )
    client.get_fax(1)
    client.mark_read(1)
    assert clock.sleeps == []
    assert recorder.requests[1].method == "PUT"


def test_a_fax_request_and_the_keyword_form_send_the_same_bytes(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path)
    options = {"cover_index": 0, "resolution": "High", "boundary": BOUNDARY}
    recorder = Recorder(json_response(fax_json()), json_response(fax_json()))
    client = scripted_client(recorder)
    client.send_fax(["+16505550123"], [pdf], **options)  # type: ignore[arg-type]
    request = FaxRequest(["+16505550123"], [pdf], cover_index=0, resolution="High")
    client.send_fax(request, boundary=BOUNDARY)
    assert recorder.bodies[0] == recorder.bodies[1]
    body = b"".join(client.build_fax_body(request, boundary=BOUNDARY))
    assert body == recorder.bodies[0]


def test_send_fax_refuses_unknown_options_and_mixed_forms(tmp_path: Path) -> None:
    client = scripted_client(Recorder())
    pdf = _pdf(tmp_path)
    with pytest.raises(TypeError, match=r"cover_idx.*cover_index"):
        client.send_fax(["+16505550123"], [pdf], cover_idx=1)
    with pytest.raises(TypeError, match="in the FaxRequest"):
        client.send_fax(FaxRequest(["+16505550123"], [pdf]), [pdf])
    with pytest.raises(TypeError, match="attachments are missing"):
        client.send_fax(["+16505550123"])


@pytest.mark.parametrize(
    ("status", "availability", "settled"),
    [
        ("Queued", "Alive", False),
        ("Queued", "Deleted", True),
        ("Sent", "Alive", True),
        ("SendingFailed", "Alive", True),
        ("Received", "Alive", True),
    ],
)
def test_is_settled(status: str, availability: str, settled: bool) -> None:
    message = FaxMessage.from_json(
        {"id": "1", "messageStatus": status, "availability": availability}
    )
    assert is_settled(message) is settled


def test_the_async_wait_uses_its_own_clock_not_the_sync_clients() -> None:
    frozen = FakeClock()  # the sync client's clock: never advances here
    recorder = Recorder(*[json_response(fax_json(status="Queued")) for _ in range(3)])
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def wait() -> None:
        client = AsyncFaxClient(
            client=scripted_client(recorder, frozen), async_sleep=sleep, wait_clock=lambda: now[0]
        )
        await client.wait_for_fax(1, timeout=15, poll=10)

    with pytest.raises(WaitTimeout):
        asyncio.run(wait())
    assert len(recorder.requests) == 3 and now[0] == 15.0
