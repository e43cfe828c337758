"""RFC 3161 time-stamps of checkpoints from a local `openssl ts` authority."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from custody.timestamp import (
    TimestampMismatch,
    TimestampUnavailable,
    check_token,
    parse_reply,
    request_der,
    stamp,
)
from tests.custody.tsa import LocalAuthority


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAuthority]:
    local = LocalAuthority(tmp_path_factory.mktemp("tsa"))
    yield local
    local.close()


def test_a_checkpoint_is_time_stamped_and_openssl_verifies_it(
    authority: LocalAuthority, tmp_path: Path
) -> None:
    note = "diskominfo.example.go.id/saksi\n8\nAAAA\n\n— diskominfo.example.go.id/saksi xyz\n"
    data = tmp_path / "checkpoint.txt"
    data.write_text(note)

    reply = stamp(authority.url, note.encode())
    (tmp_path / "reply.tsr").write_bytes(reply.der)
    verified = authority.verify(data, tmp_path / "reply.tsr")
    data.write_text(note.replace("\n8\n", "\n9\n"))
    forged = authority.verify(data, tmp_path / "reply.tsr")

    assert reply.status == 0
    assert verified.returncode == 0, verified.stderr
    assert "Verification: OK" in verified.stdout
    assert forged.returncode != 0


def test_the_request_is_the_der_openssl_reads(tmp_path: Path) -> None:
    query = tmp_path / "q.tsq"
    query.write_bytes(request_der(b"checkpoint", nonce=0x1234))
    shown = subprocess.run(
        ["openssl", "ts", "-query", "-in", str(query), "-text"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip

    assert "Hash Algorithm: sha256" in shown.stdout
    assert "Nonce: 0x1234" in shown.stdout
    assert "Certificate required: yes" in shown.stdout


def test_an_unreachable_authority_is_a_retryable_error() -> None:
    with pytest.raises(TimestampUnavailable, match="unreachable"):
        stamp("http://127.0.0.1:1/tsr", b"checkpoint", timeout=2)


def test_a_refusal_is_not_a_time_stamp() -> None:
    refusal = bytes.fromhex("3005" + "3003020102")  # PKIStatus 2: rejection
    with pytest.raises(TimestampUnavailable, match="status 2"):
        parse_reply(refusal)


def test_the_reply_is_checked_against_the_data_and_the_nonce(authority: LocalAuthority) -> None:
    """Guards against accepting any well-formed token: it must be for our data and nonce."""
    before = datetime.now(UTC) - timedelta(minutes=1)
    reply = stamp(authority.url, b"checkpoint A")
    assert reply.gen_time is not None
    assert before <= reply.gen_time <= datetime.now(UTC) + timedelta(minutes=1)

    answered = parse_reply(authority.reply(request_der(b"checkpoint A", nonce=77)))
    assert check_token(answered.token, b"checkpoint A", 77) <= datetime.now(UTC)
    with pytest.raises(TimestampMismatch, match="other data"):
        check_token(answered.token, b"checkpoint B", 77)
    with pytest.raises(TimestampMismatch, match="nonce"):
        check_token(answered.token, b"checkpoint A", 78)
    with pytest.raises(TimestampMismatch, match="malformed"):
        check_token(answered.token[:40], b"checkpoint A", 77)
