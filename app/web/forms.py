"""Turning the request form into the API's `RequestCreate`, and errors into field messages."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from app.errors import SaksiError
from app.requests.schemas import RequestCreate
from app.web import labels

PERSON_FIELDS = ("name", "id_number", "position", "institution", "email")
_ITEM_KEY = re.compile(r"^items-(\d+)-(camera_id|start|end)$")
_ITEM_IN_DETAIL = re.compile(r"^items\[(\d+)\]")

# Pydantic error types in the words of the form.
_TYPES = {
    "missing": "Wajib diisi.",
    "string_too_short": "Wajib diisi.",
    "too_short": "Tambahkan paling sedikit satu titik CCTV.",
    "value_error": "Isian tidak valid.",
    "date_from_datetime_parsing": "Tanggal tidak valid.",
    "date_parsing": "Tanggal tidak valid.",
    "datetime_from_date_parsing": "Tanggal dan jam tidak valid.",
    "datetime_parsing": "Tanggal dan jam tidak valid.",
    "int_parsing": "Pilih salah satu.",
    "enum": "Pilih salah satu.",
}

_CODE_FIELDS = {
    "DuplicateLetterNumber": "letter_number",
    "LetterNotPdf": "letter",
    "LetterTooLarge": "letter",
    "AgencyNotAuthorized": "agency_id",
    "NotYourAgency": "agency_id",
}


def item_rows(form: Mapping[str, Any]) -> list[dict[str, str]]:
    """Collect the item rows of the form in order, dropping rows left completely empty."""
    rows: dict[int, dict[str, str]] = {}
    for key, value in form.items():
        match = _ITEM_KEY.match(key)
        if match:
            rows.setdefault(int(match[1]), {})[match[2]] = str(value).strip()
    return [rows[i] for i in sorted(rows) if any(rows[i].values())]


def to_payload(form: Mapping[str, Any], rows: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    text = {key: str(value).strip() for key, value in form.items() if isinstance(value, str)}
    return {
        "agency_id": text.get("agency_id") or None,
        "letter_number": text.get("letter_number", ""),
        "letter_date": text.get("letter_date") or None,
        "legal_basis": text.get("legal_basis", ""),
        "purpose": text.get("purpose", ""),
        "incident": text.get("incident", ""),
        "officer": {f: text.get(f"officer_{f}", "") for f in PERSON_FIELDS},
        "recipient": {f: text.get(f"recipient_{f}", "") for f in PERSON_FIELDS},
        "delivery_method": text.get("delivery_method") or None,
        "items": [
            {
                "camera_id": row.get("camera_id") or None,
                "start": row.get("start") or None,
                "end": row.get("end") or None,
            }
            for row in rows
        ],  # fmt: skip
    }


def parse(payload: dict[str, Any]) -> RequestCreate:
    return RequestCreate.model_validate(payload)


def validation_errors(error: ValidationError) -> dict[str, str]:
    """Map Pydantic errors to form field names with Indonesian messages."""
    fields: dict[str, str] = {}
    for item in error.errors():
        name = _field_name(item["loc"])
        if item["type"] == "value_error" and "email" in str(item["msg"]):
            fields.setdefault(name, "Alamat e-mail tidak valid.")
        fields.setdefault(name, _TYPES.get(item["type"], "Isian tidak valid."))
    return fields


def _field_name(loc: Sequence[int | str]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] == "items" and len(parts) >= 3:
        return f"items-{parts[1]}-{parts[2]}"
    if parts and parts[0] == "items":
        return "items"
    return "_".join(parts)


def domain_error(error: SaksiError) -> dict[str, str]:
    """Place a refusal of the service next to the field it concerns."""
    text = labels.message(error.code, error.detail)
    match = _ITEM_IN_DETAIL.match(error.detail)
    if match:
        return {f"items-{match[1]}": text}
    return {_CODE_FIELDS.get(error.code, "_form"): text}
