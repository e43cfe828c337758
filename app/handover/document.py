"""Typed inputs of the handover paperwork: everything a BAST or a destruction record prints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from app.settings import known_zone

_SHA256_PATTERN = r"^[0-9a-f]{64}$"
_BAST_NUMBER_PATTERN = r"^\d{3,}/BAST/\d{4}$"
# Office zones of Indonesia and the abbreviations its letters use.
ZONE_LABELS = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA"}
ZONE_LABELS["Asia/Jayapura"] = "WIT"


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Letterhead(_Frozen):
    """The kop surat of the issuing office."""

    government: str = "PEMERINTAH KABUPATEN CIREBON"
    agency: str = "DINAS KOMUNIKASI DAN INFORMATIKA"
    address: str = "Jl. Sunan Drajat No. 15"
    phone: str = "(0231) 8330580"
    website: str = "https://diskominfo.cirebonkab.go.id"
    email: str = "diskominfo@cirebonkab.go.id"
    city: str = "Sumber"
    postal_code: str = "45611"


class Party(_Frozen):
    """A person who signs: name, identity number, position and institution."""

    name: str = Field(min_length=1)
    id_kind: str = Field(default="NIP", pattern=r"^(NIP|NIK|NRP)$")
    id_number: str | None = None
    position: str = ""
    institution: str = ""


class Gap(_Frozen):
    """A stretch inside a delivered window where the NVR holds no recording."""

    start_at: AwareDatetime
    end_at: AwareDatetime


class ClipRow(_Frozen):
    """One delivered clip: a row of *Rincian Rekaman* and an entry of the annex."""

    start_at: AwareDatetime
    end_at: AwareDatetime
    camera_location: str = Field(min_length=1)
    storage_medium: str = Field(min_length=1)
    remarks: str | None = None
    file_name: str | None = None
    sha256: str = Field(pattern=_SHA256_PATTERN)
    size_bytes: int = Field(ge=0)
    delivered_start_at: AwareDatetime | None = None
    delivered_end_at: AwareDatetime | None = None
    gaps: tuple[Gap, ...] = ()
    clock_offset_seconds: float | None = None
    order: int = Field(default=0, description="the item's place in the letter; rows print by it")


class UnavailableRow(_Frozen):
    """A requested camera and window nothing was handed over of: a row saying why, not a gap."""

    start_at: AwareDatetime
    end_at: AwareDatetime
    camera_location: str = Field(min_length=1)
    reason: str = Field(min_length=1, description="in the office's words, e.g. from the NVR")
    order: int = Field(default=0, description="the item's place in the letter; rows print by it")


class Checkpoint(_Frozen):
    """The signed Merkle checkpoint issued at handover."""

    origin: str = Field(min_length=1)
    tree_size: int = Field(ge=0)
    root: str = Field(min_length=1, description="base64 of the 32-byte tree root")
    signed_note: str = Field(min_length=1)
    # The checkpoint the package's receipts carry, and where the proof that this one extends
    # it is (issue 20: package and BAST named different checkpoints without saying why).
    package_tree_size: int | None = Field(default=None, ge=0)
    consistency_url: str | None = None

    def relation_to_package(self) -> str | None:
        """In Indonesian: how this checkpoint relates to the package's."""
        if self.package_tree_size is None:
            return None
        if self.package_tree_size == self.tree_size:
            return "Sama dengan checkpoint pada tanda terima (receipts) di dalam paket."
        return (
            f"Paket barang bukti memuat checkpoint berukuran {self.package_tree_size}; "
            f"checkpoint ini lebih baru ({self.tree_size} peristiwa) dan konsisten dengannya: "
            f"bukti konsistensinya di {self.consistency_url}"
        )


class BastDocument(_Frozen):
    """Everything printed on one Berita Acara Serah Terima Rekaman CCTV."""

    number: str = Field(pattern=_BAST_NUMBER_PATTERN)
    handover_at: AwareDatetime
    office_zone: Annotated[str, AfterValidator(known_zone)] = "Asia/Jakarta"
    letterhead: Letterhead = Letterhead()
    place: str = "Dinas Komunikasi dan Informatika Kabupaten Cirebon"
    office_name: str = "Dinas Komunikasi dan Informatika Kabupaten Cirebon"
    pihak_pertama: Party
    pihak_kedua: Party
    mengetahui: Party
    letter_number: str = Field(min_length=1)
    letter_date: date
    purpose: str = Field(min_length=1)
    via_google_drive: bool
    rows: tuple[ClipRow, ...] = Field(min_length=1)
    unavailable: tuple[UnavailableRow, ...] = ()
    checkpoint: Checkpoint | None = None
    verification_url: str = Field(pattern=r"^https?://\S+$")

    @field_validator("purpose")
    @classmethod
    def _no_lead_in(cls, value: str) -> str:
        # The template already says "digunakan untuk kepentingan"; keep it from doubling.
        lead_in = "digunakan untuk kepentingan"
        if value.lower().startswith(lead_in):
            value = value[len(lead_in) :].strip()
        return value.rstrip(".")

    @property
    def zone(self) -> ZoneInfo:
        """Return the office time zone."""
        return ZoneInfo(self.office_zone)

    @property
    def zone_label(self) -> str:
        """Return the zone's abbreviation as letters write it (WIB, WITA, WIT)."""
        return zone_label(self.office_zone)


def zone_label(office_zone: str) -> str:
    """Return WIB/WITA/WIT for an Indonesian zone, else the zone name itself."""
    return ZONE_LABELS.get(office_zone, office_zone)


class DestroyedFile(_Frozen):
    """One file a purge removed, and what it knows of that: `deleted` (the delivery medium
    confirmed the deletion), `verified_absent` (already gone, its parent still visible)."""

    file_name: str = Field(min_length=1)
    sha256: str = Field(pattern=_SHA256_PATTERN)
    size_bytes: int = Field(ge=0)
    deleted_at: AwareDatetime
    outcome: Literal["deleted", "verified_absent", "not_verified"] = "deleted"


class DestructionRecord(_Frozen):
    """A berita acara pemusnahan: which delivery was purged, which files, when and by what."""

    reference: str = Field(min_length=1, description="the record's own number or identifier")
    bast_number: str | None = Field(default=None, pattern=_BAST_NUMBER_PATTERN)
    request_number: str = Field(min_length=1)
    letter_number: str | None = None
    delivery_method: str = Field(min_length=1)
    delivery_reference: str = Field(min_length=1, description="Drive folder id or link token")
    delivered_at: AwareDatetime
    expires_at: AwareDatetime
    purged_at: AwareDatetime
    job_name: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    reason: str = "masa ketersediaan 14 (empat belas) hari sejak penyerahan telah berakhir"
    files: tuple[DestroyedFile, ...] = Field(min_length=1)
    office_zone: Annotated[str, AfterValidator(known_zone)] = "Asia/Jakarta"
    letterhead: Letterhead = Letterhead()
    place: str = "Dinas Komunikasi dan Informatika Kabupaten Cirebon"
    petugas: Party | None = None
    mengetahui: Party | None = None
