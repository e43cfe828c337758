"""How a worker process names itself: host, pid and a random id of this start.

Host and pid alone do not name a process: a restarted container runs as pid 1 on the same
hostname, and its predecessor's export attempts looked alive (issue 18). Attempts and job leases
carry this name.
"""

from __future__ import annotations

import os
import secrets
import socket

_started: tuple[int, str] = (os.getpid(), secrets.token_hex(6))


def this_worker() -> str:
    """`host:pid:start` of this process (a forked child is a new start with its own id)."""
    global _started  # noqa: PLW0603
    if _started[0] != os.getpid():
        _started = (os.getpid(), secrets.token_hex(6))
    return f"{socket.gethostname()}:{_started[0]}:{_started[1]}"
