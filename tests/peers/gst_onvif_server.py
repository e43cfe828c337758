"""An ONVIF replay server nobody here wrote: GStreamer's RTSPOnvifServer serving one MP4.

Run by Debian's /usr/bin/python3 (PyGObject lives there, not in the venv):

    gst_onvif_server.py FILE.mp4 --start 2024-05-01T08:00:00+00:00 [--port 0] [--mount /replay]
                        [--auth none|basic|digest --username U --password P]

The MP4 is the recording of one camera that began at --start. GStreamer turns `Range: clock=`
into a seek in nanoseconds since 1900 (the NTP epoch); the replay bin seeks the file to that
minus the recording's start, and `rtponviftimestamp` adds the start back (its ntp-offset) to each
frame's stream time for the 0xABAC extension. GStreamer's own PLAY reply states the range in file
time dressed as a 1900 clock; a client must not trust it. Prints "READY <port>" once listening
and runs until killed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import gi  # type: ignore[import-not-found, unused-ignore]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import (  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
    GLib,
    Gst,
    GstRtsp,
    GstRtspServer,
)

Gst.init(None)  # before the subclasses below register their GTypes

NTP_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)
ROLE = "viewer"
PAYLOAD = (
    "queue ! h264parse ! rtph264pay config-interval=0"
    " ! rtponviftimestamp name=stamp set-e-bit=true set-t-bit=true drop-out-of-segment=false"
    " ! queue"
)


def ntp_nanoseconds(moment: datetime) -> int:
    """Nanoseconds since 1900-01-01 UTC, as GStreamer expresses `clock=` ranges."""
    delta = moment.astimezone(UTC) - NTP_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


class ReplayBin(Gst.Bin):  # type: ignore[misc]
    """filesrc ! qtdemux behind a ghost pad that takes its seeks in NTP time."""

    def __init__(self, path: str, recording_start_ns: int) -> None:
        super().__init__()
        self.recording_start_ns = recording_start_ns
        self.stop_ns = -1  # where the current seek ends, in file time
        source = Gst.ElementFactory.make("filesrc")
        source.set_property("location", path)
        demux = Gst.ElementFactory.make("qtdemux")
        self.add(source)
        self.add(demux)
        source.link(demux)
        self.ghost = Gst.GhostPad.new_no_target("src", Gst.PadDirection.SRC)
        self.ghost.set_event_function_full(self._event)
        self.ghost.set_query_function_full(self._query)
        self.ghost.add_probe(Gst.PadProbeType.BUFFER, self._clip)
        self.add_pad(self.ghost)
        demux.connect("pad-added", self._pad_added)

    def _pad_added(self, _demux: Any, pad: Any) -> None:
        if pad.get_current_caps().get_structure(0).get_name() == "video/x-h264":
            self.ghost.set_target(pad)

    def _event(self, pad: Any, parent: Any, event: Any) -> bool:
        if event.type == Gst.EventType.SEEK:
            event = self._to_file_time(event)
        return bool(Gst.Pad.event_default(pad, parent, event))

    def _to_file_time(self, seek: Any) -> Any:
        rate, fmt, flags, start_type, start, stop_type, stop = seek.parse_seek()
        start = max(0, start - self.recording_start_ns)
        if stop not in (-1, Gst.CLOCK_TIME_NONE):
            stop = max(start, stop - self.recording_start_ns)
        self.stop_ns = stop
        translated = Gst.Event.new_seek(rate, fmt, flags, start_type, start, stop_type, stop)
        translated.set_seqnum(seek.get_seqnum())
        return translated

    def _clip(self, _pad: Any, info: Any) -> Any:
        # qtdemux lets one frame past the seek's stop through, and rtponviftimestamp fails the
        # whole stream on a frame outside the segment (so no EOS, no T flag).
        pts = info.get_buffer().pts
        if 0 <= self.stop_ns < pts != Gst.CLOCK_TIME_NONE:
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def _query(self, pad: Any, parent: Any, query: Any) -> bool:
        if query.type == Gst.QueryType.SEEKING:
            query.set_seeking(Gst.Format.TIME, True, 0, -1)  # NTP time: all of it
            return True
        return bool(Gst.Pad.query_default(pad, parent, query))


class ReplayFactory(GstRtspServer.RTSPOnvifMediaFactory):  # type: ignore[misc]
    """Builds `replay bin ! h264parse ! rtph264pay ! rtponviftimestamp` for each session."""

    def __init__(self, path: str, recording_start: datetime) -> None:
        super().__init__()
        self.path = path
        self.recording_start_ns = ntp_nanoseconds(recording_start)
        self.set_media_gtype(GstRtspServer.RTSPOnvifMedia)
        self.set_replay_support(True)  # else `Require: onvif-replay` is answered 551

    def do_create_element(self, _url: Any) -> Any:
        top = Gst.Bin.new(None)
        replay = ReplayBin(self.path, self.recording_start_ns)
        payload = Gst.parse_bin_from_description(PAYLOAD, True)
        payload.set_name("pay0")
        payload.get_by_name("stamp").set_property("ntp-offset", self.recording_start_ns)
        top.add(replay)
        top.add(payload)
        replay.link(payload)
        return top


def protect(server: Any, factory: Any, args: argparse.Namespace) -> None:
    """Let only `args.username` in, by Basic or Digest."""
    auth = GstRtspServer.RTSPAuth.new()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", ROLE)
    if args.auth == "digest":
        auth.add_digest(args.username, args.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.username, args.password), token)
    server.set_auth(auth)
    permissions = "media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
    factory.add_role_from_structure(Gst.Structure.new_from_string(f"{ROLE}, {permissions}"))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="GStreamer ONVIF replay of one MP4")
    parser.add_argument("file")
    parser.add_argument("--start", required=True, type=datetime.fromisoformat)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mount", default="/replay")
    parser.add_argument("--auth", choices=["none", "basic", "digest"], default="none")
    parser.add_argument("--username", default="")
    parser.add_argument("--password", default="")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    server = GstRtspServer.RTSPOnvifServer.new()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = ReplayFactory(args.file, args.start)
    if args.auth != "none":
        protect(server, factory, args)
    server.get_mount_points().add_factory(args.mount, factory)
    server.attach(None)
    sys.stdout.write(f"READY {server.get_bound_port()}\n")
    sys.stdout.flush()
    GLib.MainLoop().run()


if __name__ == "__main__":
    main(sys.argv[1:])
