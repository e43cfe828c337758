"""Configuration: secrets from files, generated in development, refused when weak in production."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from app.settings import Settings

# As `openssl rand -base64 48` makes them.
STRONG = "q3V9pZLr7tWc2Yk8HxN4mBs6DfJ0uGa1EoTyRiU5vXlQ+/wh3e7Kd2Sj9PnA0bMcFg1"


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_development_generates_private_secrets_in_the_data_dir(tmp_path: Path) -> None:
    settings = make(data_dir=tmp_path)

    key = settings.token_signing_key()

    path = tmp_path / "secrets" / "token-signing.key"
    assert path.read_bytes() == key
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert make(data_dir=tmp_path).token_signing_key() == key
    assert settings.nvr_encryption_key() != key


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "SAKSI_SECRET_KEY (or SAKSI_SECRET_KEY_FILE) is required in production"),
        ({"secret_key": "changeme"}, "SAKSI_SECRET_KEY is too weak"),
        ({"secret_key": STRONG}, "SAKSI_NVR_SECRET_KEY (or SAKSI_NVR_SECRET_KEY_FILE) is required"),
        ({"secret_key": STRONG, "nvr_secret_key": "short"}, "SAKSI_NVR_SECRET_KEY is too weak"),
        # Long enough, and no secret at all (a length-only check let them through):
        ({"secret_key": "a" * 64}, "SAKSI_SECRET_KEY is too weak"),
        ({"secret_key": "k" * 20 + "Z9x" * 10}, "SAKSI_SECRET_KEY is too weak"),
        ({"secret_key": STRONG, "nvr_secret_key": "0123456789" * 5}, "SAKSI_NVR_SECRET_KEY is"),
    ],
)
def test_production_refuses_missing_or_weak_secrets(
    tmp_path: Path, values: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(env="production", data_dir=tmp_path, **values)
    assert not (tmp_path / "secrets").exists()


def test_production_reads_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(STRONG + "\n")
    (tmp_path / "nvr").write_text(STRONG[::-1])

    settings = make(
        env="production",
        public_url="https://saksi.example.go.id",
        data_dir=tmp_path / "data",
        secret_key_file=tmp_path / "token",
        nvr_secret_key_file=tmp_path / "nvr",
    )

    assert settings.token_signing_key() == STRONG.encode()
    assert settings.nvr_encryption_key() == STRONG[::-1].encode()
    assert not (tmp_path / "data" / "secrets").exists()


def test_environment_variables_use_the_saksi_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAKSI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SAKSI_TIMEZONE", "Asia/Makassar")
    monkeypatch.setenv("SAKSI_OFFICE__CITY", "Majalengka")

    settings = Settings()

    assert settings.data_dir == tmp_path
    assert settings.zone.key == "Asia/Makassar"
    assert settings.office.city == "Majalengka"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve()}/saksi.db"
    assert settings.resolved_queue_url == f"sqlite:///{tmp_path.resolve()}/queue.db"


def test_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        make(data_dir=tmp_path, timezone="Asia/Cirebon")


def test_a_refused_secret_is_never_echoed(tmp_path: Path) -> None:
    weak = "Rahasia-Kantor-" * 4  # 60 characters, 12 distinct: long, but guessable
    with pytest.raises(ValidationError) as refused:
        make(env="production", data_dir=tmp_path, secret_key=weak, nvr_secret_key=STRONG)
    assert "too weak" in str(refused.value)
    assert weak not in str(refused.value)
    assert "Rahasia" not in str(refused.value)
    assert STRONG not in str(refused.value)


def test_production_requires_the_public_url(tmp_path: Path) -> None:
    """Every address printed into evidence comes from it; 127.0.0.1 would point nowhere."""
    with pytest.raises(ValidationError, match="SAKSI_PUBLIC_URL is required in production"):
        make(env="production", data_dir=tmp_path, secret_key=STRONG, nvr_secret_key=STRONG[::-1])


def test_the_database_password_comes_from_its_file_into_the_url(tmp_path: Path) -> None:
    (tmp_path / "db-password").write_text("s3cr/t@pass\n")
    settings = make(data_dir=tmp_path, database_url="postgresql+psycopg://saksi_app@db:5432/saksi",
                    database_password_file=tmp_path / "db-password")  # fmt: skip
    assert make_url(settings.resolved_database_url).password == "s3cr/t@pass"
    given = make(data_dir=tmp_path, database_url="postgresql+psycopg://u:inline@db/saksi",
                 database_password_file=tmp_path / "db-password")  # fmt: skip
    assert make_url(given.resolved_database_url).password == "inline"
