"""The letterhead the office's documents carry, from `SAKSI_OFFICE__*` settings."""

from __future__ import annotations

from app.handover.document import Letterhead
from app.settings import Settings


def letterhead_of(settings: Settings) -> Letterhead:
    office = settings.office
    return Letterhead(
        government=office.government,
        agency=office.agency,
        address=office.address,
        phone=office.phone,
        website=office.website,
        email=office.email,
        city=office.city,
        postal_code=office.postal_code,
    )
