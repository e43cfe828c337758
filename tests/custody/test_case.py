"""The CASE/UCO JSON-LD export: real JSON-LD (parsed to RDF), with the ontologies' own names."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from custody import CustodyEvent, Performer
from custody import append as append_event
from custody.case import CONTEXT, export
from custody.ledger import read
from tests.custody.conftest import OPERATOR, T0, TOOL

TERMS = json.loads((Path(__file__).parent / "data" / "case" / "terms.json").read_text())
KNOWN = {f"case-investigation:{t}" for t in TERMS["case-investigation"]["terms"]}
KNOWN |= set(TERMS["uco"]["terms"])
LETTER = "B/123/XI/2026"
PACKAGE_SHA256 = f"{9:064x}"
RECIPIENT = "penyidik@polri.example.go.id"
SYSTEM = Performer(kind="system", identifier="saksi", name="Saksi", role="system")


def events(engine: Engine) -> list[Any]:
    with engine.begin() as connection:
        for number, exhibit in ((1, "SKS-2026-00001/1"), (2, None)):
            result: dict[str, Any] = {"file": f"clips/{number}.mp4", "sha256": f"{number:064x}"}
            if exhibit:
                result["exhibit"] = exhibit
            append_event(
                connection,
                CustodyEvent(
                    action="export.file_written",
                    performer=OPERATOR,
                    instrument=TOOL,
                    start_time=T0,
                    end_time=T0 + timedelta(seconds=5),
                    result=result,
                    authorization="B/123/XI/2026",
                    request_id=1,
                ),  # fmt: skip
                T0,
            )
        return list(read(connection, request_id=1))


def handover_events(engine: Engine) -> list[Any]:
    """A request's whole chain as the service records it: a clip, the package, its delivery by
    link (recipient, expiry, purge due), one download session, a Drive download and the purge."""
    package = {"file": "packages/SKS-2026-00001.zip", "sha256": PACKAGE_SHA256, "size": 4096}
    download = {"delivery": 1, "file": "SKS-2026-00001.zip", "link": "0123456789abcdef",
                "client": "203.0.113.5", "download_session": 1}  # fmt: skip
    specs: list[tuple[str, Performer, dict[str, Any], dict[str, Any], str | None]] = [
        ("export.file_written", OPERATOR, {"camera": "Kamera 1"},
         {"file": "clips/1.mp4", "sha256": f"{1:064x}", "size": 1234,
          "exhibit": "SKS-2026-00001/1"}, LETTER),
        ("package.built", OPERATOR, {"request": "SKS-2026-00001", "clips": 1},
         {**package, "manifest_sha256": f"{8:064x}"}, LETTER),
        ("delivery.shared", SYSTEM,
         {"delivery": 1, "recipient": RECIPIENT, "method": "local", "anyone_with_link": False},
         {"expires_at": "2026-12-06T03:00:00Z", "purge_due_at": "2026-12-07T03:00:00Z"}, LETTER),
        ("delivery.accessed", SYSTEM, download, {"bytes": [0, 4095]}, None),
        ("delivery.access_closed", SYSTEM, download,
         {"requests": 1, "bytes_served": 4096, "ranges": [[0, 4095]]}, None),
        ("delivery.drive_activity", SYSTEM,
         {"delivery": 1, "item": "1AbC", "title": "SKS-2026-00001.zip"},
         {"time": "2026-11-22T08:30:00+00:00", "action": "download", "actors": [RECIPIENT],
          "by_saksi": False, "detail": {}, "source": "driveactivity.googleapis.com/v2"}, None),
        ("delivery.purged", SYSTEM,
         {"delivery": 1, "method": "local", "container": "c-1",
          "files": [{"name": "SKS-2026-00001.zip", "size": 4096, "sha256": PACKAGE_SHA256}]},
         {"revoked": [], "deleted": ["SKS-2026-00001.zip"], "already_gone": []}, LETTER),
    ]  # fmt: skip
    with engine.begin() as connection:
        for hours, (action, performer, object_, result, letter) in enumerate(specs):
            moment = T0 + timedelta(hours=hours)
            append_event(
                connection,
                CustodyEvent(
                    action=action,
                    performer=performer,
                    instrument=TOOL,
                    start_time=moment,
                    end_time=moment + timedelta(seconds=5),
                    object=object_,
                    result=result,
                    authorization=letter,
                    request_id=1,
                ),  # fmt: skip
                moment,
            )
        return list(read(connection, request_id=1))


@pytest.fixture
def document(engine: Engine) -> dict[str, Any]:
    return export("SKS-2026-00001", events(engine))


@pytest.fixture
def handover(engine: Engine) -> dict[str, Any]:
    return export("SKS-2026-00001", handover_events(engine))


def parse(document: dict[str, Any]) -> Any:
    rdflib = pytest.importorskip("rdflib")
    with warnings.catch_warnings():
        # rdflib 7's own JSON-LD parser still builds a ConjunctiveGraph, which it deprecates.
        warnings.simplefilter("ignore", DeprecationWarning)
        return rdflib.Graph().parse(data=json.dumps(document), format="json-ld")


def walk_terms(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if not key.startswith("@"):
                yield key
            elif key == "@type":
                yield from ([item] if isinstance(item, str) else item)
            yield from walk_terms(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_terms(item)


def test_every_term_is_a_case_or_uco_name(
    document: dict[str, Any], handover: dict[str, Any]
) -> None:
    for exported in (document, handover):
        used = {term for term in walk_terms(exported["@graph"]) if not term.startswith("xsd:")}
        assert used <= KNOWN, sorted(used - KNOWN)


def test_the_hash_method_is_a_plain_string(document: dict[str, Any]) -> None:
    """UCO 1.4+ wants xsd:string here (typing it as HashNameVocab warns, and fails in UCO 2)."""
    rdflib = pytest.importorskip("rdflib")
    types = rdflib.Namespace(CONTEXT["uco-types"])
    methods = list(parse(document).objects(None, types.hashMethod))
    assert methods
    assert all(m == rdflib.Literal("SHA256") for m in methods)
    assert all(m.datatype in (None, rdflib.XSD.string) for m in methods)


def test_the_document_is_json_ld_that_parses_to_rdf(document: dict[str, Any]) -> None:
    rdflib = pytest.importorskip("rdflib")
    graph = parse(document)
    investigation = rdflib.Namespace(CONTEXT["case-investigation"])
    action = rdflib.Namespace(CONTEXT["uco-action"])
    actions = set(graph.subjects(rdflib.RDF.type, investigation.InvestigativeAction))
    assert len(actions) == 2
    for node in actions:
        assert graph.value(node, action.performer) is not None
        assert graph.value(node, action.startTime).datatype == rdflib.XSD.dateTime
    records = list(graph.subjects(rdflib.RDF.type, investigation.ProvenanceRecord))
    assert len(records) == 2
    numbers = {str(n) for n in graph.objects(None, investigation.exhibitNumber)}
    assert numbers == {"SKS-2026-00001/1"}


def test_every_reference_names_a_node_of_the_graph(
    document: dict[str, Any], handover: dict[str, Any]
) -> None:
    for exported in (document, handover):
        nodes = {node["@id"] for node in exported["@graph"]}
        for node in exported["@graph"]:
            for key in ("uco-action:performer", "uco-action:instrument"):
                if key in node:
                    assert node[key]["@id"] in nodes
            for key in (
                "uco-action:result", "uco-action:object", "uco-core:object",
                "uco-action:participant", "uco-action:subaction",
            ):  # fmt: skip
                for reference in node.get(key, []):
                    assert reference["@id"] in nodes


def test_the_handover_is_told_as_actions(handover: dict[str, Any]) -> None:
    """Recipient, delivery method and link expiry, downloads and purge, each an action."""
    rdflib = pytest.importorskip("rdflib")
    graph = parse(handover)
    investigation = rdflib.Namespace(CONTEXT["case-investigation"])
    action = rdflib.Namespace(CONTEXT["uco-action"])
    core = rdflib.Namespace(CONTEXT["uco-core"])
    by_name = {
        str(graph.value(node, core.name)): node
        for node in graph.subjects(rdflib.RDF.type, investigation.InvestigativeAction)
    }
    assert {
        "delivery.shared", "delivery.link_expiry", "delivery.purge_scheduled",
        "delivery.accessed", "delivery.access_closed", "delivery.purged",
    } <= set(by_name)  # fmt: skip
    package = next(
        node for node in graph.subjects(rdflib.RDF.type, rdflib.URIRef(
            "https://ontology.unifiedcyberontology.org/uco/observable/File"))
        if any(str(h) == PACKAGE_SHA256 for h in graph.transitive_objects(node, None))
    )  # fmt: skip
    shared = by_name["delivery.shared"]
    recipient = graph.value(shared, action.participant)
    assert str(graph.value(recipient, core.name)) == RECIPIENT
    assert package in set(graph.objects(shared, action.object))
    description = str(graph.value(shared, core.description))
    assert "method local" in description
    assert "link expires 2026-12-06T03:00:00Z" in description
    expiry = by_name["delivery.link_expiry"]
    assert expiry in set(graph.objects(shared, action.subaction))
    assert graph.value(expiry, action.startTime) == rdflib.Literal(
        "2026-12-06T03:00:00Z", datatype=rdflib.XSD.dateTime
    )
    purge_due = by_name["delivery.purge_scheduled"]
    due = graph.value(purge_due, action.startTime).toPython()
    assert due == datetime(2026, 12, 7, 3, tzinfo=UTC)
    for name in (
        "delivery.accessed", "delivery.access_closed", "delivery.drive_activity",
        "delivery.purged",
    ):  # fmt: skip
        assert package in set(graph.objects(by_name[name], action.object)), name
    closed = str(graph.value(by_name["delivery.access_closed"], core.description))
    assert "bytes served 4096" in closed
    activity = by_name["delivery.drive_activity"]
    assert recipient in set(graph.objects(activity, action.participant))
    assert "1 deleted" in str(graph.value(by_name["delivery.purged"], core.description))


def test_the_export_is_stable(engine: Engine) -> None:
    """Guards the node identifiers: the same ledger must export to the same document."""
    stored = events(engine)
    assert export("SKS-2026-00001", stored) == export("SKS-2026-00001", stored)
    chain = handover_events(engine)
    assert export("SKS-2026-00001", chain) == export("SKS-2026-00001", chain)
