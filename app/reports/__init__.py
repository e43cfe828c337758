"""Reports of the service: the request register (log permintaan) and its monthly summary."""

from app.reports.register import (
    RegisterRow,
    StepRecord,
    StepSummary,
    Summary,
    monthly_summary,
    register_csv,
    register_xlsx,
)

__all__ = [
    "RegisterRow",
    "StepRecord",
    "StepSummary",
    "Summary",
    "monthly_summary",
    "register_csv",
    "register_xlsx",
]
