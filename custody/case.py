"""A request's custody chain as CASE/UCO JSON-LD (https://caseontology.org).

Each ledger event becomes a `case-investigation:InvestigativeAction` with its performer
(`uco-identity:Identity`), instrument (`uco-tool:Tool`), objects, results (files as
`uco-observable:File` with their SHA-256 in a `ContentDataFacet`) and the authorising letter
(`case-investigation:Authorization`), all inside one `case-investigation:Investigation`. Each
file an action produced also gets a `case-investigation:ProvenanceRecord` (with its exhibit number
when the event names one), as in CASE's own investigative-action example.

The hand-over is told as actions too: a delivery (`delivery.shared`) names its method, its
recipient (a `uco-identity:Identity`, the action's `uco-action:participant`) and the package it
hands over, and carries the link's expiry and the purge it schedules as `uco-action:subaction`s;
downloads (`delivery.accessed`, `delivery.access_closed`, and recipients' Drive activity,
`delivery.drive_activity`) and the purge (`delivery.purged`) have the delivered files as
objects. The document conforms to CASE 1.5 / UCO 1.4 as `case_validate` checks it (no
violations, warnings or infos).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from custody.ledger import StoredEvent

CONTEXT = {
    "kb": "urn:saksi:",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "uco-vocabulary": "https://ontology.unifiedcyberontology.org/uco/vocabulary/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
_NAMESPACE = uuid.UUID("6f0d3a52-5a4b-4e53-8c2f-5341ed5a4b49")


def _id(kind: str, *parts: object) -> str:
    """A stable IRI: the same performer or file gets the same node in every export."""
    return f"kb:{kind}-{uuid.uuid5(_NAMESPACE, '|'.join(map(str, parts)))}"


def _time(value: str | None) -> dict[str, str] | None:
    return None if value is None else {"@type": "xsd:dateTime", "@value": value}


@dataclass
class _Graph:
    """The nodes an export has described so far, and what later actions refer back to."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    files_by_name: dict[str, str] = field(default_factory=dict)
    package: str | None = None

    def add(self, node: dict[str, Any]) -> str:
        self.nodes.setdefault(node["@id"], node)
        return str(node["@id"])

    def file(self, result: dict[str, Any]) -> str:
        file_id = self.add(_file(result))
        if result.get("file"):
            self.files_by_name.setdefault(_basename(result["file"]), file_id)
        return file_id


def export(request_number: str, events: Iterable[StoredEvent]) -> dict[str, Any]:
    """Describe the custody events of one request as a CASE/UCO JSON-LD document."""
    graph = _Graph()
    actions: list[dict[str, Any]] = []
    for stored in events:
        document = json.loads(stored.canonical)
        actions.extend(_action(stored, document, graph))
    investigation = {
        "@id": _id("investigation", request_number),
        "@type": "case-investigation:Investigation",
        "uco-core:name": request_number,
        "uco-core:object": [{"@id": a["@id"]} for a in actions],
    }
    return {"@context": CONTEXT, "@graph": [investigation, *actions, *graph.nodes.values()]}


def _action(stored: StoredEvent, document: dict[str, Any], graph: _Graph) -> list[dict[str, Any]]:
    """The event's action, then any scheduled actions it sets up (its subactions)."""
    performer = graph.add(_performer(document["performer"]))
    tool = graph.add(_tool(document["instrument"]))
    action: dict[str, Any] = {
        "@id": _id("action", stored.seq, stored.leaf_hash.hex()),
        "@type": "case-investigation:InvestigativeAction",
        "uco-core:name": document["action"],
        "uco-core:description": f"ledger seq {stored.seq}, leaf {stored.leaf_hash.hex()}",
        "uco-action:performer": {"@id": performer},
        "uco-action:instrument": {"@id": tool},
        "uco-action:startTime": _time(document["start_time"]),
    }
    if document.get("end_time"):
        action["uco-action:endTime"] = _time(document["end_time"])
    objects: list[str] = []
    if document.get("authorization"):
        objects.append(graph.add(_authorization(document["authorization"])))
    result = document.get("result") or {}
    if result.get("sha256"):
        file_id = graph.file(result)
        record = graph.add(_provenance(stored.seq, file_id, result))
        action["uco-action:result"] = [{"@id": file_id}, {"@id": record}]
        if document["action"] == "package.built":
            graph.package = file_id
    handover = _HANDOVER.get(document["action"])
    subactions = handover(action, document, graph, objects) if handover else []
    if objects:
        action["uco-action:object"] = [{"@id": o} for o in dict.fromkeys(objects)]
    return [action, *subactions]


_Handover = Callable[[dict[str, Any], dict[str, Any], _Graph, list[str]], list[dict[str, Any]]]


def _delivery(
    action: dict[str, Any], document: dict[str, Any], graph: _Graph, objects: list[str]
) -> list[dict[str, Any]]:
    """`delivery.shared`: the recipient, the method, the package; expiry and purge scheduled."""
    details, result = document.get("object") or {}, document.get("result") or {}
    recipient = details.get("recipient")
    method = details.get("method") or "unknown"
    if recipient:
        action["uco-action:participant"] = [{"@id": graph.add(_recipient(str(recipient)))}]
    if graph.package:
        objects.append(graph.package)
    words = [f"Evidence delivered by {_METHODS.get(method, method)} (method {method})"]
    if recipient:
        words.append(f"to recipient {recipient}")
    if details.get("anyone_with_link"):
        words.append("(anyone with the link may open it)")
    notes = [" ".join(words)]
    if result.get("expires_at"):
        notes.append(f"link expires {result['expires_at']}")
    if result.get("purge_due_at"):
        notes.append(f"purge due {result['purge_due_at']}")
    action["uco-core:description"] = "; ".join([*notes, action["uco-core:description"]])
    scheduled = [
        _scheduled(action, "delivery.link_expiry", result.get("expires_at"), objects,
                   f"The access link for {recipient or 'the recipient'} stops working."),
        _scheduled(action, "delivery.purge_scheduled", result.get("purge_due_at"), objects,
                   f"The copies delivered by {_METHODS.get(method, method)} are due to be purged."),
    ]  # fmt: skip
    subactions = [s for s in scheduled if s is not None]
    if subactions:
        action["uco-action:subaction"] = [{"@id": s["@id"]} for s in subactions]
    return subactions


def _scheduled(
    parent: dict[str, Any], name: str, when: object, objects: list[str], description: str
) -> dict[str, Any] | None:
    """An action the delivery set for a later time (it may since have happened or been undone)."""
    if not isinstance(when, str) or not when:
        return None
    node: dict[str, Any] = {
        "@id": _id("action", parent["@id"], name),
        "@type": "case-investigation:InvestigativeAction",
        "uco-core:name": name,
        "uco-core:description": f"Scheduled at delivery: {description}",
        "uco-action:performer": parent["uco-action:performer"],
        "uco-action:instrument": parent["uco-action:instrument"],
        "uco-action:startTime": _time(when),
        "uco-action:endTime": _time(when),
    }
    if objects:
        node["uco-action:object"] = [{"@id": o} for o in dict.fromkeys(objects)]
    return node


def _download(
    action: dict[str, Any], document: dict[str, Any], graph: _Graph, objects: list[str]
) -> list[dict[str, Any]]:
    """`delivery.accessed` (one served range) and `delivery.access_closed` (a session's totals)."""
    details, result = document.get("object") or {}, document.get("result") or {}
    name = str(details.get("file") or "")
    if name and _basename(name) in graph.files_by_name:
        objects.append(graph.files_by_name[_basename(name)])
    words = [f"Download of {name or 'a delivered file'}"]
    if details.get("via"):
        words.append(f"via {details['via']}")
    if details.get("link"):
        words.append(f"via link {details['link']}")
    if details.get("client"):
        words.append(f"by client {details['client']}")
    if isinstance(result.get("bytes"), list) and len(result["bytes"]) == 2:
        words.append(f"bytes {result['bytes'][0]}-{result['bytes'][1]}")
    for key in ("requests", "bytes_served"):
        if key in result:
            words.append(f"{key.replace('_', ' ')} {result[key]}")
    action["uco-core:description"] = f"{' '.join(words)}; {action['uco-core:description']}"
    return []


def _drive_activity(
    action: dict[str, Any], document: dict[str, Any], graph: _Graph, objects: list[str]
) -> list[dict[str, Any]]:
    """`delivery.drive_activity`: what recipients did with a shared Drive item (a permission
    change, a comment, an edit: the Drive Activity API reports no views or downloads)."""
    details, result = document.get("object") or {}, document.get("result") or {}
    title = str(details.get("title") or "")
    if title and _basename(title) in graph.files_by_name:
        objects.append(graph.files_by_name[_basename(title)])
    actors = [str(a) for a in result.get("actors") or [] if a]
    if actors:
        action["uco-action:participant"] = [
            {"@id": graph.add(_recipient(actor, "Google Drive actor"))} for actor in actors
        ]
    words = f"Drive activity {result.get('action') or 'unknown'} on {title or 'a shared item'}"
    if result.get("time"):
        words += f" at {result['time']}"
    if actors:
        words += f" by {', '.join(actors)}"
    action["uco-core:description"] = f"{words}; {action['uco-core:description']}"
    return []


def _purge(
    action: dict[str, Any], document: dict[str, Any], graph: _Graph, objects: list[str]
) -> list[dict[str, Any]]:
    """`delivery.purged`: the delivered copies that were removed from the medium."""
    details, result = document.get("object") or {}, document.get("result") or {}
    for item in details.get("files") or []:
        if isinstance(item, dict) and item.get("sha256"):
            size = item.get("size")
            objects.append(graph.file({"sha256": item["sha256"], "file": item.get("name"),
                                       "size": size}))  # fmt: skip
        elif isinstance(item, dict) and _basename(str(item.get("name"))) in graph.files_by_name:
            objects.append(graph.files_by_name[_basename(str(item["name"]))])
    counts = ", ".join(
        f"{len(result[key])} {key.replace('_', ' ')}"
        for key in ("deleted", "revoked", "already_gone")
        if isinstance(result.get(key), list)
    )
    words = f"Delivered copies purged from {details.get('method') or 'the medium'}"
    if counts:
        words += f" ({counts})"
    action["uco-core:description"] = f"{words}; {action['uco-core:description']}"
    return []


def _revoked(
    action: dict[str, Any], document: dict[str, Any], graph: _Graph, objects: list[str]
) -> list[dict[str, Any]]:
    """`delivery.revoked`: the recipient's access withdrawn before its expiry."""
    revoked = (document.get("result") or {}).get("revoked")
    count = len(revoked) if isinstance(revoked, list) else 0
    description = f"Recipient access revoked ({count} permissions or links)"
    action["uco-core:description"] = f"{description}; {action['uco-core:description']}"
    return []


_METHODS = {"drive": "Google Drive share", "local": "download link", "media": "physical media"}

_HANDOVER: dict[str, _Handover] = {
    "delivery.shared": _delivery,
    "delivery.accessed": _download,
    "delivery.access_closed": _download,
    "delivery.drive_activity": _drive_activity,
    "delivery.purged": _purge,
    "delivery.revoked": _revoked,
}


def _basename(path: object) -> str:
    return str(path).rsplit("/", 1)[-1]


def _performer(performer: dict[str, str]) -> dict[str, Any]:
    return {
        "@id": _id("identity", performer["kind"], performer["id"]),
        "@type": "uco-identity:Identity",
        "uco-core:name": performer["name"],
        "uco-core:description": performer.get("role", ""),
    }


def _recipient(address: str, role: str = "recipient") -> dict[str, Any]:
    return {
        "@id": _id("identity", "recipient", address.strip().lower()),
        "@type": "uco-identity:Identity",
        "uco-core:name": address,
        "uco-core:description": role,
    }


def _tool(instrument: dict[str, str]) -> dict[str, Any]:
    return {
        "@id": _id("tool", instrument["tool"], instrument["version"]),
        "@type": "uco-tool:Tool",
        "uco-core:name": instrument["tool"],
        "uco-tool:version": instrument["version"],
    }


def _file(result: dict[str, Any]) -> dict[str, Any]:
    facets: list[dict[str, Any]] = [
        {
            "@id": _id("content-facet", result["sha256"]),
            "@type": "uco-observable:ContentDataFacet",
            "uco-observable:hash": [
                {
                    "@id": _id("hash", result["sha256"]),
                    "@type": "uco-types:Hash",
                    # UCO 1.4+: a plain xsd:string drawn from HashNameVocab (typing the literal
                    # as the vocabulary is deprecated and an error from UCO 2.0).
                    "uco-types:hashMethod": "SHA256",
                    "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": result["sha256"]},
                }
            ],
        }
    ]
    if result.get("file"):
        file_facet: dict[str, Any] = {
            "@id": _id("file-facet", result["sha256"]),
            "@type": "uco-observable:FileFacet",
            "uco-observable:fileName": _basename(result["file"]),
        }
        if isinstance(result.get("size"), int):
            file_facet["uco-observable:sizeInBytes"] = {
                "@type": "xsd:integer",
                "@value": str(result["size"]),
            }
        facets.append(file_facet)
    return {
        "@id": _id("file", result["sha256"]),
        "@type": "uco-observable:File",
        "uco-core:hasFacet": facets,
    }


def _provenance(seq: int, file_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """The custody link between the action and the file it produced (CASE's exhibit record)."""
    record: dict[str, Any] = {
        "@id": _id("provenance-record", seq, file_id),
        "@type": "case-investigation:ProvenanceRecord",
        "uco-core:object": [{"@id": file_id}],
    }
    if result.get("exhibit"):
        record["case-investigation:exhibitNumber"] = str(result["exhibit"])
    return record


def _authorization(letter_number: str) -> dict[str, Any]:
    return {
        "@id": _id("authorization", letter_number),
        "@type": "case-investigation:Authorization",
        "case-investigation:authorizationType": "Surat permohonan data rekaman CCTV",
        "case-investigation:authorizationIdentifier": [letter_number],
    }
