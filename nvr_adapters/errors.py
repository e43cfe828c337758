"""Errors talking to NVRs.

NvrError
├── NvrUnreachable      connection refused, reset or timed out (transient: retry)
├── NvrAuthFailed       the device refused the credentials
├── NvrBusy             503/454 and the like: the device cannot serve now (transient: retry)
├── RecordingNotFound   nothing recorded in the requested range
└── ReplayError         the device answered, but not as the protocol says
"""

from __future__ import annotations


class NvrError(Exception):
    transient = False


class NvrUnreachable(NvrError):
    transient = True


class NvrAuthFailed(NvrError):
    pass


class NvrBusy(NvrError):
    transient = True


class RecordingNotFound(NvrError):
    pass


class ReplayError(NvrError):
    pass
