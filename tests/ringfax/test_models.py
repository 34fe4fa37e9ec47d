"""Models: from_json tolerance, status semantics, fax error table."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from ringfax import Attachment, CoverPage, FaxMessage, MessageStatus, Recipient, RecipientStatus
from ringfax._models import (
    FAX_ERROR_TABLE,
    TERMINAL_STATUSES,
    FaxErrorInfo,
    MessageAttachment,
    RateLimitInfo,
    fax_error_info,
    format_datetime,
    parse_datetime,
)

# FaxErrorCodeEnum, verbatim from the reference (§4.2)
SPEC_FAX_ERROR_CODES = [
    "AllLinesInUse",
    "Undefined",
    "NoFaxSendPermission",
    "NoInternationalPermission",
    "NoFaxMachine",
    "NoAnswer",
    "LineBusy",
    "CallerHungUp",
    "NotEnoughCredits",
    "SentPartially",
    "InternationalCallingDisabled",
    "DestinationCountryDisabled",
    "UnknownCountryCode",
    "NotAccepted",
    "InvalidNumber",
    "CallDeclined",
    "TooManyCallsPerLine",
    "CallFailed",
    "RenderingFailed",
    "TooManyPages",
    "ReturnToDBQueue",
    "NoCallTime",
    "WrongNumber",
    "ProhibitedNumber",
    "InternalError",
    "FaxSendingProhibited",
    "ThePhoneIsBlacklisted",
    "UserNotFound",
    "ConvertError",
    "DBGeneralError",
    "SkypeBillingFailed",
    "AccountSuspended",
    "ProhibitedDestination",
    "InternationalDisabled",
]

COMPOSED = {
    "uri": "https://platform.ringcentral.com/restapi/v1.0/account/401234567008/extension/401234568008/message-store/1724099032020",
    "id": 1724099032020,
    "to": [
        {
            "recipientId": "1724099033020",
            "phoneNumber": "+16505550123",
            "name": "Jane Doe",
            "location": "Palo Alto, CA",
            "messageStatus": "Queued",
        }
    ],
    "from": {"phoneNumber": "+16505550100", "name": "Acme Front Desk", "location": "San Mateo, CA"},
    "type": "Fax",
    "creationTime": "2026-08-20T17:02:11.000Z",
    "readStatus": "Unread",
    "priority": "Normal",
    "attachments": [
        {
            "id": 1724099032020,
            "uri": "https://media.ringcentral.com/.../content/1724099032020",
            "type": "RenderedDocument",
            "contentType": "application/pdf",
        }
    ],
    "direction": "Outbound",
    "availability": "Alive",
    "messageStatus": "Queued",
    "faxResolution": "High",
    "faxPageCount": 0,
    "lastModifiedTime": "2026-08-20T17:02:11.519Z",
    "coverIndex": 5,
    "coverPageText": "Re: claim 8812",
    "someFutureField": {"nested": True},
}


def test_fax_message_from_composed_example() -> None:
    msg = FaxMessage.from_json(COMPOSED)
    assert msg.id == "1724099032020"
    assert msg.message_status is MessageStatus.QUEUED
    assert msg.creation_time == datetime(2026, 8, 20, 17, 2, 11, tzinfo=timezone.utc)
    assert msg.last_modified_time == datetime(2026, 8, 20, 17, 2, 11, 519000, tzinfo=timezone.utc)
    assert msg.from_ is not None and msg.from_.name == "Acme Front Desk"
    assert msg.to == (
        RecipientStatus(
            phone_number="+16505550123",
            name="Jane Doe",
            message_status=MessageStatus.QUEUED,
            recipient_id="1724099033020",
            location="Palo Alto, CA",
            raw_status="Queued",
        ),
    )
    assert msg.attachments[0] == MessageAttachment(
        id="1724099032020",
        uri="https://media.ringcentral.com/.../content/1724099032020",
        type="RenderedDocument",
        content_type="application/pdf",
    )
    assert (msg.cover_index, msg.cover_page_text, msg.fax_page_count) == (5, "Re: claim 8812", 0)
    assert msg.raw["someFutureField"] == {"nested": True}
    assert not msg.is_final
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.id = "2"  # type: ignore[misc]


def test_from_json_tolerates_garbage_and_missing_fields() -> None:
    msg = FaxMessage.from_json(
        {
            "id": "7",
            "messageStatus": "Exploded",
            "to": ["not-an-object", {"phoneNumber": 123}],
            "attachments": "nope",
            "faxPageCount": "3",
            "coverIndex": True,
            "creationTime": "yesterday",
        }
    )
    assert msg.id == "7" and msg.message_status is None
    assert msg.to == (RecipientStatus(phone_number="123"),)
    assert msg.attachments == () and msg.fax_page_count == 3 and msg.cover_index is None
    assert msg.creation_time is None
    assert FaxMessage.from_json({}).id == ""
    att = MessageAttachment.from_json({"id": 1, "fileName": "x.pdf", "size": 10})
    assert (att.filename, att.size) == ("x.pdf", 10)


def test_status_semantics() -> None:
    assert {s.value for s in TERMINAL_STATUSES} == {
        "Sent",
        "Delivered",
        "SendingFailed",
        "DeliveryFailed",
    }
    assert not MessageStatus.QUEUED.is_final and not MessageStatus.RECEIVED.is_final
    assert MessageStatus.SENDING_FAILED.is_failure and not MessageStatus.SENT.is_failure
    assert MessageStatus.parse("Delivered") is MessageStatus.DELIVERED
    assert MessageStatus.parse(None) is None and MessageStatus.parse("x") is None
    mixed = FaxMessage.from_json(
        {
            "id": 1,
            "messageStatus": "SendingFailed",
            "to": [
                {"phoneNumber": "+1", "messageStatus": "SendingFailed", "faxErrorCode": "NoAnswer"},
                {"phoneNumber": "+2", "messageStatus": "Sent"},
                {
                    "phoneNumber": "+3",
                    "messageStatus": "SendingFailed",
                    "faxErrorCode": "InvalidNumber",
                },
            ],
        }
    )
    assert mixed.is_final
    assert [r.phone_number for r in mixed.failed_recipients] == ["+1", "+3"]
    assert [r.retryable for r in mixed.to] == [True, False, False]


def test_fax_error_table_covers_every_spec_value() -> None:
    assert set(FAX_ERROR_TABLE) == set(SPEC_FAX_ERROR_CODES)
    for code, info in FAX_ERROR_TABLE.items():
        assert info.code == code and len(info.reason) > 10
    retryable = {c for c, i in FAX_ERROR_TABLE.items() if i.retryable}
    assert {"LineBusy", "NoAnswer", "AllLinesInUse", "TooManyCallsPerLine"} <= retryable
    assert not retryable & {"InvalidNumber", "WrongNumber", "NoCallTime", "AccountSuspended"}
    assert fax_error_info("LineBusy") == FaxErrorInfo(
        "LineBusy", "the destination line was busy", True
    )
    unknown = fax_error_info("BrandNewCode")
    assert unknown.retryable is False and "BrandNewCode" in unknown.reason


def test_recipient_and_attachment_models() -> None:
    assert Recipient("+1650", "Jane").to_json() == {"phoneNumber": "+1650", "name": "Jane"}
    assert Recipient("+1650").to_json() == {"phoneNumber": "+1650"}
    att = Attachment("/tmp/dir/scan #1 & co.pdf")
    assert att.display_name == "scan #1 & co.pdf"
    assert att.wire_filename == "scan _1 _ co.pdf"
    assert Attachment(b"x", filename="a@b.txt").wire_filename == "a_b.txt"
    assert "source" not in repr(Attachment(b"secret bytes", filename="a.txt"))


def test_cover_page_and_rate_limit_info() -> None:
    assert CoverPage.from_json({"id": "13", "name": "Urgent", "x": 1}) == CoverPage(13, "Urgent")
    info = RateLimitInfo.from_headers(
        {
            "x-rate-limit-group": "light",
            "X-Rate-Limit-Limit": "1000",
            "X-RATE-LIMIT-REMAINING": "999",
        }
    )
    assert info == RateLimitInfo("light", 1000, 999, None)
    assert RateLimitInfo.from_headers({"Content-Type": "x"}) is None


def test_datetime_helpers() -> None:
    tz = timezone(timedelta(hours=-8))
    assert format_datetime(datetime(2030, 3, 19, 0, 0, 0, 123456, tz)) == "2030-03-19T08:00:00.123Z"
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2030, 1, 1))
    assert parse_datetime("2016-12-01T00:00:00Z") == datetime(2016, 12, 1, tzinfo=timezone.utc)
    assert parse_datetime("2016-12-01T00:00:00") == datetime(2016, 12, 1, tzinfo=timezone.utc)
    assert parse_datetime(None) is None and parse_datetime("garbage") is None


def test_enums_print_as_their_wire_values(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from ringfax import NotCancellable, WaitTimeout
    from ringfax._models import FaxResolution

    failed = MessageStatus.SENDING_FAILED
    assert str(failed) == "SendingFailed"
    assert f"{failed}|{failed:>15}|{failed!s}" == "SendingFailed|  SendingFailed|SendingFailed"
    assert "%s" % failed == "SendingFailed"  # noqa: UP031 - the logging style
    assert "{}".format(failed) == "SendingFailed"  # noqa: UP032
    assert str(FaxResolution.HIGH) == "High" and f"{FaxResolution.LOW}" == "Low"
    assert repr(failed) == "<MessageStatus.SENDING_FAILED: 'SendingFailed'>"  # repr stays exact
    with caplog.at_level(logging.INFO):
        logging.getLogger("ringfax.test").info("fax %s is %s", "1", failed)
    assert caplog.messages == ["fax 1 is SendingFailed"]
    msg = FaxMessage.from_json({"id": "9", "messageStatus": "Queued"})
    assert str(WaitTimeout("9", 5.0, msg)).endswith("(last status: Queued)")
    assert "Sent" in str(NotCancellable("9", MessageStatus.SENT))
    assert "MessageStatus." not in str(NotCancellable("9", MessageStatus.SENT))


def test_deleted_messages_and_retryable_recipients() -> None:
    msg = FaxMessage.from_json(
        {
            "id": "5",
            "availability": "Deleted",
            "messageStatus": "SendingFailed",
            "to": [
                {"phoneNumber": "+16505550001", "messageStatus": "SendingFailed",
                 "faxErrorCode": "LineBusy"},
                {"phoneNumber": "+16505550003", "messageStatus": "SendingFailed",
                 "faxErrorCode": "InvalidNumber"},
                {"phoneNumber": "+16505550123", "messageStatus": "Sent"},
            ],
        }
    )  # fmt: skip
    assert msg.is_deleted
    assert [r.phone_number for r in msg.failed_recipients] == ["+16505550001", "+16505550003"]
    assert [r.phone_number for r in msg.retryable_recipients] == ["+16505550001"]
    for availability, deleted in (("Alive", False), (None, False), ("Purged", True)):
        raw = {"id": "5", "availability": availability}
        assert FaxMessage.from_json(raw).is_deleted is deleted
