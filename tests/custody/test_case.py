"""The CASE/UCO JSON-LD export: real JSON-LD (parsed to RDF), with the ontologies' own names."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from custody import CustodyEvent
from custody import append as append_event
from custody.case import CONTEXT, export
from custody.ledger import read
from tests.custody.conftest import OPERATOR, T0, TOOL

TERMS = json.loads((Path(__file__).parent / "data" / "case" / "terms.json").read_text())
KNOWN = {f"case-investigation:{t}" for t in TERMS["case-investigation"]["terms"]}
KNOWN |= set(TERMS["uco"]["terms"])


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


@pytest.fixture
def document(engine: Engine) -> dict[str, Any]:
    return export("SKS-2026-00001", events(engine))


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


def test_every_term_is_a_case_or_uco_name(document: dict[str, Any]) -> None:
    used = {term for term in walk_terms(document["@graph"]) if not term.startswith("xsd:")}
    assert used <= KNOWN, sorted(used - KNOWN)


def test_the_document_is_json_ld_that_parses_to_rdf(document: dict[str, Any]) -> None:
    rdflib = pytest.importorskip("rdflib")
    with warnings.catch_warnings():
        # rdflib 7's own JSON-LD parser still builds a ConjunctiveGraph, which it deprecates.
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = rdflib.Graph().parse(data=json.dumps(document), format="json-ld")
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


def test_every_reference_names_a_node_of_the_graph(document: dict[str, Any]) -> None:
    nodes = {node["@id"] for node in document["@graph"]}
    for node in document["@graph"]:
        for key in ("uco-action:performer", "uco-action:instrument"):
            if key in node:
                assert node[key]["@id"] in nodes
        for key in ("uco-action:result", "uco-action:object", "uco-core:object"):
            for reference in node.get(key, []):
                assert reference["@id"] in nodes


def test_the_export_is_stable(engine: Engine) -> None:
    """Guards the node identifiers: the same ledger must export to the same document."""
    stored = events(engine)
    assert export("SKS-2026-00001", stored) == export("SKS-2026-00001", stored)
