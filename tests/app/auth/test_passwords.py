"""The password policy: ≥ 12 characters, not common, not the username (issue 17: the CLI
accepted the admin password `aaaaaaaaaa`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.auth.models import Role
from app.auth.passwords import common_passwords, weakness
from tests.app.factories import Factory
from tests.app.test_cli_serve import environment


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaaaa",  # long enough, five different characters short
        "abababababab",
        "Password2026!",  # "password" with digits and a symbol around it
        "123456789012",  # digits only
        "qwertyuiop12",
        "1qaz2wsx3edc",  # in the list as it is
        "pendek",
        "x" * 257,
    ],
)
def test_weak_passwords_are_refused(password: str) -> None:
    assert weakness(password) is not None


@pytest.mark.parametrize("password", ["Diskominfo-Cirebon-2026", "kuda benar baterai staples",
                                      "correct-horse-battery"])  # fmt: skip
def test_ordinary_strong_passwords_pass(password: str) -> None:
    assert weakness(password) is None


def test_the_list_is_shipped_and_the_username_is_refused() -> None:
    assert len(common_passwords()) > 9_900  # less the one entry that starts like a comment
    assert "password" in common_passwords()
    assert weakness("operator-siang-2026", "operator-siang") is not None


def test_the_api_refuses_a_common_password_with_the_reason(factory: Factory) -> None:
    admin = factory.headers(factory.user(Role.ADMIN))
    new = {"username": "staf-lemah", "full_name": "Staf", "role": "operator",
           "password": "Password2026!"}  # fmt: skip
    answer = factory.client.post("/api/v1/users", json=new, headers=admin)
    assert answer.status_code == 422
    assert "most common passwords" in answer.text
    assert "Password2026!" not in answer.text  # never echoed


def test_the_cli_refuses_a_weak_admin_password(tmp_path: Path) -> None:
    env = environment(tmp_path / "data")
    saksi = [sys.executable, "-m", "app.cli"]
    subprocess.run([*saksi, "db", "upgrade"], env=env, check=True, capture_output=True)
    added = subprocess.run(
        [*saksi, "user", "add", "--username", "kepala", "--role", "admin", "--password-stdin"],
        env=env, input="aaaaaaaaaa\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert added.returncode != 0
    assert "12 to 256 characters" in added.stderr
    assert "aaaaaaaaaa" not in added.stderr + added.stdout
