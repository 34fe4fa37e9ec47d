"""The framework-free part: FieldPolicy, FormChecker and FormReader, and the promise that
neither ``import mimewire`` nor ``import mimewire.integrations`` imports a framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mimewire import LimitExceeded, MalformedInput, PartStart, UsageError
from mimewire.integrations import FieldPolicy, FormChecker, FormReader, FormRejected, rejected
from tests.integrations._bodies import HOSTILE_BODIES, field, file, form_body


class Recorder:
    def __init__(self) -> None:
        self.fields: list[tuple[str, bytes]] = []
        self.files: list[tuple[str, str | None, bytearray, int]] = []

    def field(self, name: str, value: bytes, start: PartStart) -> None:
        self.fields.append((name, value))

    def file(self, name: str, start: PartStart) -> object:
        body = bytearray()
        self.files.append((name, start.filename, body, -1))
        return body.extend

    def file_end(self, size: int) -> None:
        name, filename, body, _ = self.files[-1]
        self.files[-1] = (name, filename, body, size)


def read(body: tuple[str, bytes], policy: FieldPolicy | None = None, chunk: int = 7) -> Recorder:
    content_type, data = body
    sink = Recorder()
    reader = FormReader(content_type, sink, policy=policy)  # type: ignore[arg-type]
    for at in range(0, len(data), chunk):
        reader.feed(data[at : at + chunk])
    reader.finish()
    return sink


def test_form_reader_hands_over_fields_and_files_for_every_chunking() -> None:
    body = form_body(
        "b0", [(field("a"), b"1\r\n2"), (file("f", "x.bin", "image/png"), b"\x00" * 300)]
    )
    for chunk in (1, 2, 7, 64, 1000):
        sink = read(body, chunk=chunk)
        assert sink.fields == [("a", b"1\r\n2")]
        assert sink.files == [("f", "x.bin", bytearray(300), 300)]


@pytest.mark.parametrize("case", sorted(HOSTILE_BODIES))
def test_form_reader_refuses_hostile_bodies_with_their_status(case: str) -> None:
    body, status = HOSTILE_BODIES[case]
    with pytest.raises(FormRejected) as caught:
        read(body)
    assert caught.value.status == status


def test_per_field_limit_is_checked_before_the_field_is_complete() -> None:
    policy = FieldPolicy(field_limits={"a": 4})
    sink_seen: list[int] = []

    class Sink(Recorder):
        def field(self, name: str, value: bytes, start: PartStart) -> None:
            sink_seen.append(len(value))

    content_type, data = form_body("b0", [(field("a"), b"x" * 100)])
    reader = FormReader(content_type, Sink(), policy=policy)  # type: ignore[arg-type]
    with pytest.raises(FormRejected) as caught:
        reader.feed(data)
    assert (caught.value.status, caught.value.field, caught.value.limit) == (
        413,
        "a",
        "field_limits['a']",
    )
    assert caught.value.value == 4
    assert not sink_seen


def test_form_memory_counts_all_fields_together() -> None:
    policy = FieldPolicy(max_form_memory=10)
    ok = form_body(
        "b0", [(field("a"), b"12345"), (field("b"), b"12345"), (file("f", "x", "a/b"), b"z" * 50)]
    )
    assert len(read(ok, policy).fields) == 2
    over = form_body("b0", [(field("a"), b"12345"), (field("b"), b"123456")])
    with pytest.raises(FormRejected) as caught:
        read(over, policy)
    assert (caught.value.field, caught.value.limit) == ("b", "max_form_memory")


def test_content_type_wildcards_and_default() -> None:
    policy = FieldPolicy(file_content_types={"image/*", "text/plain"})
    assert policy.accepts_type("image/png") and policy.accepts_type("IMAGE/JPEG")
    assert policy.accepts_type("text/plain") and not policy.accepts_type("text/html")
    assert not policy.accepts_type(None)  # counts as application/octet-stream
    assert FieldPolicy().accepts_type(None)


def test_counts_and_names() -> None:
    checker = FormChecker(FieldPolicy(allowed_fields={"a"}, max_fields=1, max_files=0))
    assert checker.open("a", None, None)[0] == "a"
    with pytest.raises(FormRejected) as caught:
        checker.open("a", None, None)
    assert (caught.value.status, caught.value.limit) == (413, "max_fields")
    with pytest.raises(FormRejected) as caught:
        checker.open("b", None, None)
    assert caught.value.status == 400 and "'b'" in caught.value.message
    with pytest.raises(FormRejected) as caught:
        checker.open("a", "f.txt", "text/plain")
    assert caught.value.limit == "max_files"


@pytest.mark.parametrize(
    "bad",
    [
        {"max_fields": -1},
        {"max_file_size": 1.5},
        {"field_limits": {"a": -2}},
        {"allowed_fields": "abc"},
    ],
)
def test_policy_refuses_bad_settings(bad: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        FieldPolicy(**bad)  # type: ignore[arg-type]


def test_policy_is_frozen_and_copies_its_mappings() -> None:
    limits = {"a": 1}
    policy = FieldPolicy(field_limits=limits, allowed_fields={"a"})
    limits["a"] = 99
    assert policy.field_limits["a"] == 1
    assert isinstance(policy.allowed_fields, frozenset)
    with pytest.raises(AttributeError):
        policy.max_files = 3  # type: ignore[misc]


def test_mimewire_errors_map_to_400_and_413() -> None:
    assert rejected(MalformedInput("bad", offset=3), "f").status == 400
    answer = rejected(LimitExceeded("max_parts", 5), "f")
    assert (answer.status, answer.limit, answer.value, answer.field) == (413, "max_parts", 5, "f")
    assert answer.as_dict()["error"].startswith("field 'f': limit max_parts=5 exceeded")


def test_importing_mimewire_imports_no_framework() -> None:
    code = (
        "import sys, mimewire, mimewire.integrations\n"
        "loaded = {'starlette', 'werkzeug', 'django', 'flask', 'fastapi'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reader_refuses_wrong_argument_types_as_usage_errors() -> None:
    content_type = "multipart/form-data; boundary=b0"
    with pytest.raises(UsageError):
        FormReader(content_type, Recorder(), limits={"max_parts": 3})  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        FormReader(content_type, Recorder(), policy={"max_files": 3})  # type: ignore[arg-type]
