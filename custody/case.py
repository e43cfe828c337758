"""A request's custody chain as CASE/UCO JSON-LD (https://caseontology.org).

Each ledger event becomes a `case-investigation:InvestigativeAction` with its performer
(`uco-identity:Identity`), instrument (`uco-tool:Tool`), objects, results (files as
`uco-observable:File` with their SHA-256 in a `ContentDataFacet`) and the authorising letter
(`case-investigation:Authorization`), all inside one `case-investigation:Investigation`. Each
file an action produced also gets a `case-investigation:ProvenanceRecord` (with its exhibit number
when the event names one), as in CASE's own investigative-action example.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
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


def export(request_number: str, events: Iterable[StoredEvent]) -> dict[str, Any]:
    """Describe the custody events of one request as a CASE/UCO JSON-LD document."""
    graph: dict[str, dict[str, Any]] = {}
    actions = []
    for stored in events:
        document = json.loads(stored.canonical)
        actions.append(_action(stored, document, graph))
    investigation = {
        "@id": _id("investigation", request_number),
        "@type": "case-investigation:Investigation",
        "uco-core:name": request_number,
        "uco-core:object": [{"@id": a["@id"]} for a in actions],
    }
    return {"@context": CONTEXT, "@graph": [investigation, *actions, *graph.values()]}


def _action(stored: StoredEvent, document: dict[str, Any], graph: dict[str, Any]) -> dict[str, Any]:
    performer = _node(graph, _performer(document["performer"]))
    tool = _node(graph, _tool(document["instrument"]))
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
    result = document.get("result") or {}
    if result.get("sha256"):
        file_id = _node(graph, _file(result))
        record = _node(graph, _provenance(stored.seq, file_id, result))
        action["uco-action:result"] = [{"@id": file_id}, {"@id": record}]
    if document.get("authorization"):
        authorization = _node(graph, _authorization(document["authorization"]))
        action["uco-action:object"] = [{"@id": authorization}]
    return action


def _node(graph: dict[str, Any], node: dict[str, Any]) -> str:
    graph.setdefault(node["@id"], node)
    return str(node["@id"])


def _performer(performer: dict[str, str]) -> dict[str, Any]:
    return {
        "@id": _id("identity", performer["kind"], performer["id"]),
        "@type": "uco-identity:Identity",
        "uco-core:name": performer["name"],
        "uco-core:description": performer.get("role", ""),
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
                    "uco-types:hashMethod": {
                        "@type": "uco-vocabulary:HashNameVocab",
                        "@value": "SHA256",
                    },
                    "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": result["sha256"]},
                }
            ],
        }
    ]
    if result.get("file"):
        file_facet: dict[str, Any] = {
            "@id": _id("file-facet", result["sha256"]),
            "@type": "uco-observable:FileFacet",
            "uco-observable:fileName": str(result["file"]).rsplit("/", 1)[-1],
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
