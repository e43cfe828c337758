"""Witnessing, the service's side (c2sp.org/tlog-witness).

As a witness: `add_checkpoint` cosigns another office's checkpoint when it is consistent with
the last one cosigned for that origin (the route is POST /api/v1/witness/add-checkpoint).
As a log: `submit_checkpoints` sends this office's latest checkpoint to each configured witness
with the consistency proof from the size that witness last cosigned, and stores the
cosignatures it answers (the custody.witness job).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import httpx

from app.db import unit_of_work
from app.runtime import Runtime
from app.settings import Environment, Settings
from custody import OfficeKey, ledger, load_or_create
from custody.errors import SignatureError
from custody.keys import load as load_key
from custody.witness import (
    COSIGNATURE_TYPE,
    AddCheckpoint,
    VerifierKey,
    WitnessRefusal,
    add_checkpoint,
    append_cosignature,
    cosigner_verifier_key,
    last_cosigned_size,
    parse_verifier_key,
)

logger = logging.getLogger(__name__)

SIZE_CONTENT_TYPE = "text/x.tlog.size"


# --- as a witness -----------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _key_at(path: Path, create: bool) -> OfficeKey:
    return load_or_create(path) if create else load_key(path)


def witness_key(settings: Settings) -> OfficeKey:
    """The witness's Ed25519 key: created in the data directory on first use in development;
    in production (or when a file is named) it must exist."""
    create = settings.witness_key_file is None and settings.env is not Environment.PRODUCTION
    return _key_at(settings.witness_key_path, create)


def witness_verifier_key(settings: Settings) -> str | None:
    """This witness's cosignature/v1 verifier key, if it is one."""
    if settings.witness_name is None:
        return None
    return cosigner_verifier_key(settings.witness_name, witness_key(settings).public_bytes)


def witnessed_logs(settings: Settings) -> dict[str, list[VerifierKey]]:
    """The logs this witness cosigns: origin → the verifier keys trusted for it."""
    logs: dict[str, list[VerifierKey]] = {}
    for log in settings.witness_logs:
        logs.setdefault(log.origin, []).append(parse_verifier_key(log.key))
    return logs


def cosign_submission(runtime: Runtime, request: AddCheckpoint) -> str:
    """Check and cosign a submitted checkpoint; raises `WitnessRefusal` with the status."""
    settings = runtime.settings
    if settings.witness_name is None:
        raise WitnessRefusal(404, "this office witnesses no log")
    logs = witnessed_logs(settings)
    key = witness_key(settings)
    with unit_of_work(runtime.sessions) as session:
        # Checked and recorded in one transaction, committed before the cosignature is sent.
        return add_checkpoint(
            session.connection(), request, logs, settings.witness_name, key, runtime.clock.now()
        )


# --- as a log ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submission:
    witness: str
    tree_size: int
    ok: bool
    message: str


def configured_witnesses(settings: Settings) -> list[tuple[str, VerifierKey]]:
    """(submission prefix, verifier key) of every witness this office submits to."""
    return [
        (w.url.rstrip("/"), parse_verifier_key(w.key, COSIGNATURE_TYPE)) for w in settings.witnesses
    ]


def submit_checkpoints(runtime: Runtime, client: httpx.Client | None = None) -> list[Submission]:
    """Submit the latest checkpoint to every configured witness that has not cosigned it."""
    witnesses = configured_witnesses(runtime.settings)
    if not witnesses:
        return []
    with runtime.snapshots() as connection:
        stored = ledger.checkpoints(connection)
        if not stored:
            return []
        latest = stored[-1]
        last = {key.name: last_cosigned_size(connection, key.name) for _url, key in witnesses}
    own = client or httpx.Client(timeout=runtime.settings.witness_timeout_seconds)
    results = []
    try:
        for url, key in witnesses:
            if last[key.name] == latest.tree_size:
                continue
            results.append(_submit_one(runtime, own, url, key, latest, last[key.name]))
    finally:
        if client is None:
            own.close()
    return results


def _submit_one(
    runtime: Runtime,
    client: httpx.Client,
    url: str,
    key: VerifierKey,
    checkpoint: ledger.StoredCheckpoint,
    old_size: int,
) -> Submission:
    size = checkpoint.tree_size
    for _attempt in range(3):  # a 409 tells the size the witness holds: resend once from it
        if old_size > size:
            message = f"the witness holds size {old_size}, beyond this ledger's {size}"
            logger.error("witness %s: %s", key.name, message)
            return Submission(key.name, size, False, message)
        body = AddCheckpoint(old_size, _proof(runtime, old_size, size), checkpoint.note).body()
        try:
            response = client.post(
                f"{url}/add-checkpoint", content=body.encode(),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )  # fmt: skip
        except httpx.HTTPError as exc:
            logger.warning("witness %s unreachable: %s", key.name, exc)
            return Submission(key.name, size, False, f"unreachable: {exc}")
        if response.status_code == 409 and response.text.strip().isdigit():
            reported = int(response.text.strip())
            if reported == old_size:
                break  # the same size, another conflict: a different root at that size
            old_size = reported
            continue
        if response.status_code != 200:
            break
        return _store(runtime, key, checkpoint, response.text)
    message = f"refused: HTTP {response.status_code} {response.text.strip()[:200]}"
    logger.error("witness %s %s", key.name, message)
    return Submission(key.name, size, False, message)


def _proof(runtime: Runtime, old_size: int, size: int) -> list[bytes]:
    if old_size in (0, size):
        return []
    with runtime.snapshots() as connection:
        _size, proof = runtime.tree_cache.consistency_proof(old_size, size, connection)
    return proof


def _store(
    runtime: Runtime, key: VerifierKey, checkpoint: ledger.StoredCheckpoint, lines: str
) -> Submission:
    """Keep this witness's cosignature line (others' are ignored), after checking it."""
    mine = [line for line in lines.splitlines() if line.split(" ")[1:2] == [key.name]]
    note = checkpoint.note + "".join(f"{line}\n" for line in mine)
    try:
        with unit_of_work(runtime.sessions) as session:
            append_cosignature(session.connection(), key, note, checkpoint.id, runtime.clock.now())
    except SignatureError as exc:
        logger.error("witness %s answered no valid cosignature: %s", key.name, exc)
        return Submission(key.name, checkpoint.tree_size, False, str(exc))
    logger.info("checkpoint %d (size %d) cosigned by %s", checkpoint.id,
                checkpoint.tree_size, key.name)  # fmt: skip
    return Submission(key.name, checkpoint.tree_size, True, "cosigned")
