"""Custody events and their canonical bytes.

Field names follow the CASE/UCO ontology's InvestigativeAction: `action`, `performer`,
`instrument` (tool and version), `object`, `result`, `authorization`, `start_time`, `end_time`.

The canonical form is what the Merkle leaf hashes and what a verifier recomputes forever, so it
is fixed here: a JSON object with `seq` (the event's sequence number) and `prev` (hex of the
previous leaf hash, "" for the first) added to the event's fields; keys sorted; no white space;
UTF-8 without escaping non-ASCII; only strings, integers, booleans, null, objects and arrays
(no floats: a float has no single canonical spelling); times as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
This is the subset of RFC 8785 (JCS) these values need.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JsonValue = str | int | bool | None | dict[str, Any] | list[Any]

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(moment: datetime) -> str:
    """Write a tz-aware time in the canonical UTC form."""
    if moment.tzinfo is None:
        raise ValueError("custody times must be tz-aware")
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Performer:
    """Who acted: a user of the office, or a job of the system."""

    kind: str
    identifier: str
    name: str
    role: str = ""

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.identifier, "name": self.name, "role": self.role}


@dataclass(frozen=True, slots=True)
class Instrument:
    tool: str
    version: str

    def as_json(self) -> dict[str, str]:
        return {"tool": self.tool, "version": self.version}


@dataclass(frozen=True, slots=True)
class CustodyEvent:
    """One action on the evidence, as it enters the ledger."""

    action: str
    performer: Performer
    instrument: Instrument
    start_time: datetime
    end_time: datetime | None = None
    object: dict[str, JsonValue] = field(default_factory=dict)
    result: dict[str, JsonValue] = field(default_factory=dict)
    authorization: str | None = None
    request_id: int | None = None

    def document(self) -> dict[str, JsonValue]:
        """The event as a JSON document (without its position in the ledger)."""
        return {
            "action": self.action,
            "performer": self.performer.as_json(),
            "instrument": self.instrument.as_json(),
            "object": self.object,
            "result": self.result,
            "authorization": self.authorization,
            "start_time": format_time(self.start_time),
            "end_time": format_time(self.end_time) if self.end_time else None,
            "request_id": self.request_id,
        }


def canonical_bytes(document: dict[str, JsonValue], seq: int, prev: str) -> bytes:
    """Return the canonical encoding of an event document at position `seq` after `prev`."""
    _refuse_floats(document)
    body = {**document, "seq": seq, "prev": prev}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _refuse_floats(value: object) -> None:
    if isinstance(value, float):
        raise ValueError("custody events carry no floats: write numbers as integers or strings")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_floats(item)
