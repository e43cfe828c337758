"""The ONVIF device over SOAP 1.2: Device, Media, Recording, Search and Replay operations.

Responses are built as text from small templates, with the namespaces of the ONVIF WSDLs, and
every request must carry a WS-Security UsernameToken with a PasswordDigest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import xml.etree.ElementTree as ET  # noqa: N817 - parses our own loopback clients
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from nvr_sim.archive import Archive
from nvr_sim.config import CameraConfig

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "trc": "http://www.onvif.org/ver10/recording/wsdl",
    "tse": "http://www.onvif.org/ver10/search/wsdl",
    "trp": "http://www.onvif.org/ver10/replay/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "tns1": "http://www.onvif.org/ver10/topics",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
_DECL = " ".join(f'xmlns:{p}="{u}"' for p, u in NS.items() if p not in ("wsse", "wsu"))
SERVICES = (("tds", "device"), ("trt", "media"), ("trc", "recording"), ("tse", "search"),
            ("trp", "replay"))  # fmt: skip
DIGEST_TYPE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)


class SoapFault(Exception):
    def __init__(self, code: str, subcode: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.status = code, subcode, reason, status

    def envelope(self) -> str:
        return envelope(
            f"<env:Fault><env:Code><env:Value>env:{self.code}</env:Value><env:Subcode>"
            f"<env:Value>ter:{self.subcode}</env:Value></env:Subcode></env:Code><env:Reason>"
            f'<env:Text xml:lang="en">{escape(self.reason)}</env:Text></env:Reason></env:Fault>'
        )


def envelope(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope {_DECL}><env:Body>{body}</env:Body></env:Envelope>'  # noqa: E501


def xml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_username_token(root: ET.Element, username: str, password: str) -> None:
    """Raise NotAuthorized unless the header holds a valid PasswordDigest for the user."""
    token = root.find(".//wsse:Security/wsse:UsernameToken", NS)
    if token is None:
        raise SoapFault("Sender", "NotAuthorized", "Sender not authorized", 400)
    given_user = token.findtext("wsse:Username", "", NS)
    digest = token.findtext("wsse:Password", "", NS)
    nonce = base64.b64decode(token.findtext("wsse:Nonce", "", NS) or "")
    created = token.findtext("wsu:Created", "", NS) or ""
    expected = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + password.encode()).digest()  # noqa: S324
    ).decode()
    if given_user != username or not hmac.compare_digest(expected, digest.strip()):
        raise SoapFault("Sender", "NotAuthorized", "Sender not authorized", 400)


@dataclass
class SearchSession:
    results: list[str]
    keep_alive: float
    endpoint: datetime
    touched: float = field(default_factory=time.monotonic)
    polls: int = 0

    def expired(self) -> bool:
        return time.monotonic() - self.touched > self.keep_alive


def _duration_seconds(text: str | None, default: float = 60.0) -> float:
    """Parse the simple xs:duration forms clients send (PT10S, PT1M, PT1M30.5S)."""
    if not text or not text.startswith("PT"):
        return default
    total, number = 0.0, ""
    for char in text[2:]:
        if char.isdigit() or char == ".":
            number += char
        else:
            total += float(number or 0) * {"H": 3600, "M": 60, "S": 1}.get(char, 0)
            number = ""
    return total


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).astimezone(UTC)


class OnvifDevice:
    """Answer the SOAP operations of one simulated NVR."""

    def __init__(self, archive: Archive, base_url: Callable[[], tuple[str, str]]) -> None:
        self.archive = archive
        # (http base, rtsp base) known only once both servers are bound.
        self.base_url = base_url
        self.searches: dict[str, SearchSession] = {}
        # Every operation asked, in order (what a client did to the device, for tests).
        self.operations: list[str] = []
        self.handlers: dict[str, Callable[[ET.Element], str]] = {
            "GetSystemDateAndTime": self.get_system_date_and_time,
            "GetDeviceInformation": self.get_device_information,
            "GetNetworkInterfaces": self.get_network_interfaces,
            "GetServices": self.get_services,
            "GetCapabilities": self.get_capabilities,
            "GetProfiles": self.get_profiles,
            "GetStreamUri": self.get_stream_uri,
            "GetRecordings": self.get_recordings,
            "GetRecordingJobs": self.get_recording_jobs,
            "GetRecordingSummary": self.get_recording_summary,
            "GetRecordingInformation": self.get_recording_information,
            "FindRecordings": self.find_recordings,
            "GetRecordingSearchResults": self.get_search_results,
            "FindEvents": self.find_events,
            "GetEventSearchResults": self.get_search_results,
            "EndSearch": self.end_search,
            "GetReplayUri": self.get_replay_uri,
        }

    def handle(self, body: bytes) -> tuple[int, str]:
        """Answer one SOAP request: (HTTP status, envelope)."""
        try:
            root = ET.fromstring(body)
            operation = root.find("env:Body/*", NS)
            if operation is None:
                raise SoapFault("Sender", "InvalidArgVal", "Empty body")
            name = operation.tag.rsplit("}", 1)[-1]
            self.operations.append(name)
            # As on real devices, the clock may be read without credentials (to sync digests).
            if name != "GetSystemDateAndTime":
                config = self.archive.config
                check_username_token(root, config.username, config.password)
            handler = self.handlers.get(name)
            if handler is None:
                raise SoapFault("Receiver", "ActionNotSupported", f"{name} is not supported")
            return 200, envelope(handler(operation))
        except ET.ParseError as error:
            fault = SoapFault("Sender", "WellFormed", str(error))
            return fault.status, fault.envelope()
        except SoapFault as fault:
            return fault.status, fault.envelope()

    # Device -------------------------------------------------------------------------------

    def get_system_date_and_time(self, _op: ET.Element) -> str:
        now = self.archive.now()
        local = now.astimezone(ZoneInfo(self.archive.config.timezone))
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>WIB-7</tt:TZ></tt:TimeZone>"
            f"<tt:UTCDateTime>{_date_time(now)}</tt:UTCDateTime>"
            f"<tt:LocalDateTime>{_date_time(local)}</tt:LocalDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def get_device_information(self, _op: ET.Element) -> str:
        c = self.archive.config
        return (
            f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{escape(c.make)}</tds:Manufacturer>"
            f"<tds:Model>{escape(c.model)}</tds:Model>"
            f"<tds:FirmwareVersion>{escape(c.firmware)}</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(c.serial)}</tds:SerialNumber>"
            "<tds:HardwareId>SIM-1</tds:HardwareId></tds:GetDeviceInformationResponse>"
        )

    def get_network_interfaces(self, _op: ET.Element) -> str:
        """One interface, as onvif/specs defines GetNetworkInterfacesResponse
        (wsdl/ver10/device/wsdl/devicemgmt.wsdl: one or more tds:NetworkInterfaces of type
        tt:NetworkInterface; wsdl/ver10/schema/onvif.xsd: a `token` attribute, Enabled, then
        the optional Info with Name, HwAddress and MTU). Without a MAC the optional Info is
        left out, as the schema allows."""
        mac = self.archive.config.mac
        info = (
            f"<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>{escape(mac)}</tt:HwAddress>"
            "<tt:MTU>1500</tt:MTU></tt:Info>"
            if mac
            else ""
        )
        return (
            '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">'
            f"<tt:Enabled>true</tt:Enabled>{info}</tds:NetworkInterfaces>"
            "</tds:GetNetworkInterfacesResponse>"
        )

    def get_services(self, _op: ET.Element) -> str:
        xaddr = self._xaddr()
        items = "".join(
            f"<tds:Service><tds:Namespace>{NS[prefix]}</tds:Namespace><tds:XAddr>{xaddr}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>42</tt:Minor></tds:Version></tds:Service>"
            for prefix, _name in SERVICES
        )
        return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"

    def get_capabilities(self, _op: ET.Element) -> str:
        xaddr = self._xaddr()
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{xaddr}</tt:XAddr></tt:Device>"
            f"<tt:Media><tt:XAddr>{xaddr}</tt:XAddr><tt:StreamingCapabilities>"
            "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
            "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
            "<tt:Extension>"
            f"<tt:Recording><tt:XAddr>{xaddr}</tt:XAddr><tt:ReceiverSource>false</tt:ReceiverSource>"
            "<tt:MediaProfileSource>true</tt:MediaProfileSource>"
            "<tt:DynamicRecordings>false</tt:DynamicRecordings><tt:DynamicTracks>false"
            "</tt:DynamicTracks><tt:MaxStringLength>64</tt:MaxStringLength></tt:Recording>"
            f"<tt:Search><tt:XAddr>{xaddr}</tt:XAddr><tt:MetadataSearch>false</tt:MetadataSearch>"
            "</tt:Search>"
            f"<tt:Replay><tt:XAddr>{xaddr}</tt:XAddr></tt:Replay>"
            "</tt:Extension></tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    # Media --------------------------------------------------------------------------------

    def get_profiles(self, _op: ET.Element) -> str:
        profiles = "".join(
            f'<trt:Profiles token="{cam.token}" fixed="true"><tt:Name>{escape(cam.name)}</tt:Name>'
            "</trt:Profiles>"
            for cam in self.archive.config.cameras
        )
        return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"

    def get_stream_uri(self, op: ET.Element) -> str:
        token = op.findtext("trt:ProfileToken", "", NS).strip()
        camera = self._camera_by(lambda c: c.token == token)
        # The simulator records only; its "stream" is the replay of the recording.
        uri = f"{self.base_url()[1]}/onvif/replay/{camera.recording_token}"
        return (
            f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
            "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
            "</trt:MediaUri></trt:GetStreamUriResponse>"
        )

    # Recording ----------------------------------------------------------------------------

    def get_recordings(self, _op: ET.Element) -> str:
        items = "".join(
            f"<trc:RecordingItem><tt:RecordingToken>{cam.recording_token}</tt:RecordingToken>"
            f"<tt:Configuration>{_source(cam)}<tt:Content>{escape(cam.name)}</tt:Content>"
            f"<tt:MaximumRetentionTime>{_duration(self.archive.config.retention)}"
            "</tt:MaximumRetentionTime></tt:Configuration><tt:Tracks><tt:Track>"
            "<tt:TrackToken>VIDEO001</tt:TrackToken><tt:Configuration>"
            f"<tt:TrackType>Video</tt:TrackType><tt:Description>{cam.codec_label}</tt:Description>"
            "</tt:Configuration></tt:Track></tt:Tracks></trc:RecordingItem>"
            for cam in self.archive.config.cameras
        )
        return f"<trc:GetRecordingsResponse>{items}</trc:GetRecordingsResponse>"

    def get_recording_jobs(self, _op: ET.Element) -> str:
        items = "".join(
            f"<trc:JobItem><tt:JobToken>Job_{cam.channel}</tt:JobToken><tt:JobConfiguration>"
            f"<tt:RecordingToken>{cam.recording_token}</tt:RecordingToken>"
            "<tt:Mode>Active</tt:Mode><tt:Priority>1</tt:Priority><tt:Source><tt:SourceToken>"
            f"<tt:Token>{cam.token}</tt:Token></tt:SourceToken></tt:Source>"
            "</tt:JobConfiguration></trc:JobItem>"
            for cam in self.archive.config.cameras
        )
        return f"<trc:GetRecordingJobsResponse>{items}</trc:GetRecordingJobsResponse>"

    # Search -------------------------------------------------------------------------------

    def get_recording_summary(self, _op: ET.Element) -> str:
        return (
            "<tse:GetRecordingSummaryResponse><tse:Summary>"
            f"<tt:DataFrom>{xml_time(self.archive.oldest())}</tt:DataFrom>"
            f"<tt:DataUntil>{xml_time(self.archive.newest())}</tt:DataUntil>"
            f"<tt:NumberRecordings>{len(self.archive.config.cameras)}</tt:NumberRecordings>"
            "</tse:Summary></tse:GetRecordingSummaryResponse>"
        )

    def get_recording_information(self, op: ET.Element) -> str:
        token = op.findtext("tse:RecordingToken", "", NS).strip()
        camera = self._camera_by(lambda c: c.recording_token == token)
        info = self._information(camera, "tse:RecordingInformation")
        return f"<tse:GetRecordingInformationResponse>{info}</tse:GetRecordingInformationResponse>"

    def find_recordings(self, op: ET.Element) -> str:
        wanted = {
            t.text.strip() for t in op.iterfind("tse:Scope/tt:IncludedRecordings", NS) if t.text
        }
        results = [
            self._information(cam, "tt:RecordingInformation")
            for cam in self.archive.config.cameras
            if not wanted or cam.recording_token in wanted
        ]
        token = self._open_search(op, results, self.archive.now())
        return f"<tse:FindRecordingsResponse><tse:SearchToken>{token}</tse:SearchToken></tse:FindRecordingsResponse>"  # noqa: E501

    def find_events(self, op: ET.Element) -> str:
        start = _parse_time(op.findtext("tse:StartPoint", None, NS)) or self.archive.oldest()
        end = _parse_time(op.findtext("tse:EndPoint", None, NS)) or self.archive.now()
        wanted = {
            t.text.strip() for t in op.iterfind("tse:Scope/tt:IncludedRecordings", NS) if t.text
        }
        results: list[str] = []
        for cam in self.archive.config.cameras:
            if not wanted or cam.recording_token in wanted:
                results += self._track_events(cam, min(start, end), max(start, end))
        return f"<tse:FindEventsResponse><tse:SearchToken>{self._open_search(op, results, end)}</tse:SearchToken></tse:FindEventsResponse>"  # noqa: E501

    def get_search_results(self, op: ET.Element) -> str:
        token = op.findtext("tse:SearchToken", "", NS).strip()
        session = self._session(token)
        maximum = int(op.findtext("tse:MaxResults", "0", NS) or 0) or len(session.results) or 1
        session.polls += 1
        # Like a device still walking its disks, the first poll reports the search as running.
        batch: list[str] = []
        if session.polls > 1:
            batch, session.results = session.results[:maximum], session.results[maximum:]
        state = "Completed" if session.polls > 1 and not session.results else "Searching"
        name = op.tag.rsplit("}", 1)[-1] + "Response"
        content = "".join(batch)
        return (
            f"<tse:{name}><tse:ResultList><tt:SearchState>{state}</tt:SearchState>{content}"
            f"</tse:ResultList></tse:{name}>"
        )

    def end_search(self, op: ET.Element) -> str:
        token = op.findtext("tse:SearchToken", "", NS).strip()
        session = self._session(token)
        del self.searches[token]
        return f"<tse:EndSearchResponse><tse:Endpoint>{xml_time(session.endpoint)}</tse:Endpoint></tse:EndSearchResponse>"  # noqa: E501

    # Replay -------------------------------------------------------------------------------

    def get_replay_uri(self, op: ET.Element) -> str:
        token = op.findtext("trp:RecordingToken", "", NS).strip()
        camera = self._camera_by(lambda c: c.recording_token == token)
        uri = f"{self.base_url()[1]}/onvif/replay/{camera.recording_token}"
        return (
            f"<trp:GetReplayUriResponse><trp:Uri>{escape(uri)}</trp:Uri></trp:GetReplayUriResponse>"
        )

    # Helpers ------------------------------------------------------------------------------

    def _xaddr(self) -> str:
        return f"{self.base_url()[0]}/onvif/device_service"

    def _camera_by(self, match: Callable[[CameraConfig], bool]) -> CameraConfig:
        for camera in self.archive.config.cameras:
            if match(camera):
                return camera
        raise SoapFault("Sender", "InvalidArgVal", "No such token")

    def _open_search(self, op: ET.Element, results: list[str], endpoint: datetime) -> str:
        self.searches = {k: s for k, s in self.searches.items() if not s.expired()}
        keep_alive = _duration_seconds(op.findtext("tse:KeepAliveTime", None, NS))
        maximum = int(op.findtext("tse:MaxMatches", "0", NS) or 0)
        token = f"Search_{secrets.token_hex(6)}"
        self.searches[token] = SearchSession(results[:maximum] if maximum else results,
                                             keep_alive, endpoint)  # fmt: skip
        return token

    def _session(self, token: str) -> SearchSession:
        session = self.searches.get(token)
        if session is None or session.expired():
            self.searches.pop(token, None)
            raise SoapFault("Sender", "InvalidToken", f"Unknown or expired search {token}")
        session.touched = time.monotonic()
        return session

    def _information(self, camera: CameraConfig, tag: str) -> str:
        spans = self.archive.spans(camera, self.archive.oldest(), self.archive.newest())
        first = spans[0].start if spans else self.archive.oldest()
        last = spans[-1].end if spans else self.archive.oldest()
        return (
            f"<{tag}><tt:RecordingToken>{camera.recording_token}</tt:RecordingToken>"
            f"{_source(camera)}<tt:EarliestRecording>{xml_time(first)}</tt:EarliestRecording>"
            f"<tt:LatestRecording>{xml_time(last)}</tt:LatestRecording>"
            f"<tt:Content>{escape(camera.name)}</tt:Content><tt:Track>"
            "<tt:TrackToken>VIDEO001</tt:TrackToken><tt:TrackType>Video</tt:TrackType>"
            f"<tt:Description>{camera.codec_label}</tt:Description>"
            f"<tt:DataFrom>{xml_time(first)}</tt:DataFrom>"
            f"<tt:DataTo>{xml_time(last)}</tt:DataTo></tt:Track>"
            f"<tt:RecordingStatus>Recording</tt:RecordingStatus></{tag}>"
        )

    def _track_events(self, camera: CameraConfig, start: datetime, end: datetime) -> list[str]:
        """RecordingHistory/Track/State changes: data present at each span's start, absent after."""
        events: list[str] = []
        for span in self.archive.spans(camera, start, end):
            events.append(_state_event(camera, span.start, True, span.start == start))
            if span.end < min(end, self.archive.newest()):
                events.append(_state_event(camera, span.end, False, False))
        return events


def _state_event(camera: CameraConfig, moment: datetime, present: bool, start_state: bool) -> str:
    when = xml_time(moment)
    value = "true" if present else "false"
    return (
        f"<tt:Result><tt:RecordingToken>{camera.recording_token}</tt:RecordingToken>"
        f"<tt:TrackToken>VIDEO001</tt:TrackToken><tt:Time>{when}</tt:Time><tt:Event>"
        '<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        "tns1:RecordingHistory/Track/State</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="{when}"><tt:Source>'
        f'<tt:SimpleItem Name="RecordingToken" Value="{camera.recording_token}"/>'
        '<tt:SimpleItem Name="Track" Value="VIDEO001"/></tt:Source><tt:Data>'
        f'<tt:SimpleItem Name="IsDataPresent" Value="{value}"/></tt:Data></tt:Message>'
        f"</wsnt:Message></tt:Event><tt:StartStateEvent>{str(start_state).lower()}"
        "</tt:StartStateEvent></tt:Result>"
    )


def _source(camera: CameraConfig) -> str:
    return (
        f"<tt:Source><tt:SourceId>{camera.token}</tt:SourceId><tt:Name>{escape(camera.name)}"
        "</tt:Name><tt:Location>Simulator</tt:Location><tt:Description>Synthetic camera"
        "</tt:Description><tt:Address>127.0.0.1</tt:Address></tt:Source>"
    )


def _duration(value: timedelta) -> str:
    return f"PT{int(value.total_seconds())}S"


def _date_time(moment: datetime) -> str:
    return (
        f"<tt:Time><tt:Hour>{moment.hour}</tt:Hour><tt:Minute>{moment.minute}</tt:Minute>"
        f"<tt:Second>{moment.second}</tt:Second></tt:Time><tt:Date><tt:Year>{moment.year}"
        f"</tt:Year><tt:Month>{moment.month}</tt:Month><tt:Day>{moment.day}</tt:Day></tt:Date>"
    )
