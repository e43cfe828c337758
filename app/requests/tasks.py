"""Request jobs."""

from __future__ import annotations

from app import runtime as runtime_module
from app.jobs import job
from app.requests import preservation


@job("requests.check_preservation", retries=2, retry_delay=30)
def check_preservation(request_id: int) -> str:
    """Ask the NVRs whether the request's windows are about to be overwritten."""
    verdicts = preservation.check(runtime_module.current(), request_id)
    return ",".join(v.value for v in verdicts)
