"""What people read: time standards as they say them, custody actions in Indonesian words
(issue 19 item 6-7: the log and timeline named event keys; "1440 menit")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.jobs import queue
from app.web import labels

APP = Path(__file__).resolve().parents[3] / "app"
_KEY = re.compile(r'"((?:sop|request|export|delivery|handover|package|destruction|registry|user|'
                  r'ledger|nvr)\.[a-z_]+)"')  # fmt: skip


@pytest.mark.parametrize(
    ("minutes", "said"),
    [(15, "15 menit"), (60, "1 jam"), (90, "1 jam 30 menit"), (1440, "24 jam"), (2880, "2 hari"),
     (1500, "25 jam"), (0, "0 menit")],
)  # fmt: skip
def test_time_standards_read_as_people_say_them(minutes: int, said: str) -> None:
    assert labels.duration(minutes) == said


def test_every_custody_action_the_service_records_has_indonesian_words() -> None:
    jobs = set(queue.registered_jobs())  # job names look like actions
    recorded = {key for path in APP.rglob("*.py") for key in _KEY.findall(path.read_text())} - jobs
    missing = sorted(recorded - set(labels.CUSTODY_ACTIONS))
    assert missing == []
    assert labels.custody_action("request.registered") == "Surat didaftarkan"
    assert labels.custody_action("something.new") == "something.new"  # never hidden
