"""Proofs and the public verification API: anyone can check a file; nobody learns who did what."""

from __future__ import annotations

import base64
import hashlib

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.custody import service
from app.runtime import Runtime
from custody import open_note, verify_consistency, verify_inclusion
from custody.ledger import StoredEvent
from tests.app.factories import Factory, multipart, request_payload

CLIP = hashlib.sha256(b"klip kamera 1").hexdigest()
OPERATOR = service.Performer(kind="user", identifier="7", name="Dewi Lestari", role="operator")


def _exported(session: Session, runtime: Runtime, sha: str = CLIP) -> StoredEvent:
    service.record(
        session, "export.file_written", OPERATOR, runtime.clock.now(),
        object={"camera": "Kamera 1", "bast_number": "007/BAST/2026"},
        result={"file": "exports/1.mp4", "sha256": sha}, authorization="B/123/XI/2026",
        request_id=None,
    )  # fmt: skip
    session.commit()
    (seq,) = service.find_by_sha256(session, sha)[-1:]
    (stored,) = [e for e in service.ledger.read(session.connection()) if e.seq == seq]
    return stored


def _checkpoint(session: Session, runtime: Runtime) -> None:
    service.issue_checkpoint(
        session, runtime.office_key, runtime.settings.custody_origin, runtime.clock.now()
    )
    session.commit()


def test_inclusion_proof_of_an_issued_file_verifies_offline(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    service.record(session, "request.registered", OPERATOR, runtime.clock.now())
    stored = _exported(session, runtime)
    _checkpoint(session, runtime)

    body = client.get(f"/api/v1/custody/proof?sha256={CLIP.upper()}").json()

    checkpoint = open_note(
        body["checkpoint"], runtime.settings.custody_origin, runtime.office_key.public_bytes
    )
    proof = [base64.b64decode(h) for h in body["proof"]]
    verify_inclusion(stored.leaf_hash, body["leaf_index"], checkpoint.size, proof, checkpoint.root)
    assert body["seq"] == stored.seq
    assert "Dewi" not in str(body)


def test_a_proof_waits_for_a_checkpoint_that_covers_the_event(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    _checkpoint(session, runtime)
    _exported(session, runtime)

    waiting = client.get(f"/api/v1/custody/proof?sha256={CLIP}")
    unknown = client.get(f"/api/v1/custody/proof?sha256={'0' * 64}")
    malformed = client.get("/api/v1/custody/proof?sha256=xyz")

    assert waiting.status_code == 409
    assert unknown.status_code == 404
    assert malformed.status_code == 422
    assert malformed.json()["error"] == "ValidationFailed"


def test_consistency_proofs_between_sizes(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    for number in range(5):
        _exported(session, runtime, hashlib.sha256(bytes([number])).hexdigest())
    tree = service.current_tree(session)

    body = client.get("/api/v1/custody/consistency?first=2&second=5").json()

    proof = [base64.b64decode(h) for h in body["proof"]]
    verify_consistency(2, 5, proof, tree.root(2), tree.root(5))
    assert client.get("/api/v1/custody/consistency?first=4&second=9").status_code == 422


def test_public_verification_tells_whether_when_and_which_bast(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    _exported(session, runtime)
    service.record(
        session, "request.registered", OPERATOR, runtime.clock.now(),
        result={"file": "letters/x.pdf", "sha256": "a" * 64},
    )  # fmt: skip
    session.commit()

    found = client.get(f"/api/v1/verify/{CLIP}").json()
    letter = client.get(f"/api/v1/verify/{'a' * 64}").json()

    assert found["found"] is True
    assert found["bast_numbers"] == ["007/BAST/2026"]
    assert found["records"][0]["action"] == "export.file_written"
    assert "Dewi" not in str(found)
    assert "B/123" not in str(found)
    assert letter["found"] is False  # what the office received is not answered publicly


def test_case_jsonld_export_of_a_request(
    client: TestClient, session: Session, runtime: Runtime
) -> None:
    factory = Factory(session=session, runtime=runtime, client=client)
    agency = factory.agency()
    camera = factory.camera(factory.nvr())
    operator = factory.user(Role.OPERATOR)
    created = client.post(
        "/api/v1/requests", headers=factory.headers(operator),
        **multipart(request_payload(agency, [camera], factory.now)),
    ).json()  # fmt: skip

    response = client.get(
        f"/api/v1/requests/{created['id']}/custody.jsonld", headers=factory.headers(operator)
    )

    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    graph = document["@graph"]
    types = [node["@type"] for node in graph]
    assert document["@context"]["case-investigation"].startswith("https://ontology.caseontology")
    assert types.count("case-investigation:Investigation") == 1
    assert types.count("case-investigation:InvestigativeAction") == 2
    letter = next(n for n in graph if n["@type"] == "uco-observable:File")
    [content] = [f for f in letter["uco-core:hasFacet"] if f["@type"].endswith("ContentDataFacet")]
    assert (
        content["uco-observable:hash"][0]["uco-types:hashValue"]["@value"]
        == created["letter_sha256"]
    )
    ids = {node["@id"] for node in graph}
    for action in (n for n in graph if n["@type"] == "case-investigation:InvestigativeAction"):
        assert action["uco-action:performer"]["@id"] in ids
        assert action["uco-action:instrument"]["@id"] in ids
