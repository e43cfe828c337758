"""The command line's dispatcher: cheap to start, in step with the models it does not import."""

from __future__ import annotations

import subprocess
import sys

from app.auth.models import Role
from app.cli import ROLES


def test_the_parser_offers_exactly_the_roles_of_the_model() -> None:
    assert ROLES == tuple(role.value for role in Role)


def test_saksi_replay_imports_neither_the_web_app_nor_the_soap_stack() -> None:
    """`saksi replay` is timed against ffmpeg: it must not pay for what it does not use."""
    probe = (
        "import sys, app.cli, app.commands.replay; "
        "print(','.join(m for m in ('fastapi', 'uvicorn', 'zeep', 'sqlalchemy', 'cv2') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == ""
