"""Keys and secrets created by several processes at the same moment: one is published, whole,
and every process uses it (issue 18: a second process could read an empty file)."""

from __future__ import annotations

import multiprocessing
import stat
from multiprocessing.synchronize import Barrier
from pathlib import Path

from app.settings import ensure_generated_secret
from custody.atomic import create_once
from custody.keys import load, load_or_create

RACERS = 8


def _office_key(path: str, barrier: Barrier, results: multiprocessing.Queue[bytes]) -> None:
    barrier.wait()
    results.put(load_or_create(Path(path)).public_bytes)


def _secret(path: str, barrier: Barrier, results: multiprocessing.Queue[bytes]) -> None:
    barrier.wait()
    results.put(ensure_generated_secret(Path(path)))


def _race(target: object, path: Path) -> list[bytes]:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(RACERS), context.Queue()
    racers = [context.Process(target=target, args=(str(path), barrier, results))  # type: ignore[arg-type]
              for _ in range(RACERS)]  # fmt: skip
    for racer in racers:
        racer.start()
    seen = [results.get(timeout=30) for _ in racers]
    for racer in racers:
        racer.join(timeout=30)
        assert racer.exitcode == 0
    return seen


def test_processes_creating_the_office_key_at_once_share_one_whole_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "office-ed25519.pem"
    for attempt in range(5):  # the window was narrow: race several times
        target = path.with_name(f"office-{attempt}.pem")
        seen = _race(_office_key, target)
        assert len(set(seen)) == 1
        assert load(target).public_bytes == seen[0]
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert [p.name for p in target.parent.iterdir() if p.suffix == ".new"] == []


def test_processes_creating_a_secret_at_once_read_it_whole(tmp_path: Path) -> None:
    for attempt in range(5):
        target = tmp_path / "secrets" / f"token-signing-{attempt}.key"
        seen = _race(_secret, target)
        assert len(set(seen)) == 1
        assert len(seen[0]) == 64  # token_urlsafe(48): never empty, never half
        assert target.read_bytes().strip() == seen[0]


def test_create_once_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "a" / "secret"
    assert create_once(path, b"first") == b"first"
    assert create_once(path, b"second") == b"first"
    assert path.read_bytes() == b"first"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
