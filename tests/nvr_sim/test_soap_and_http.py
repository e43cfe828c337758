"""The HTTP port: every ONVIF operation through zeep with the shipped WSDLs; ISAPI; Dahua CGI."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import onvif
import pytest
import requests
from zeep import Client
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from nvr_sim import NvrSimulator
from nvr_sim.config import CameraConfig
from tests.nvr_sim.conftest import PASSWORD, USER, running, small_config

WSDL_DIR = Path(onvif.__file__).parent / "wsdl"
SERVICES = {
    "device": ("devicemgmt.wsdl", "{http://www.onvif.org/ver10/device/wsdl}DeviceBinding"),
    "media": ("media.wsdl", "{http://www.onvif.org/ver10/media/wsdl}MediaBinding"),
    "recording": ("recording.wsdl", "{http://www.onvif.org/ver10/recording/wsdl}RecordingBinding"),
    "search": ("search.wsdl", "{http://www.onvif.org/ver10/search/wsdl}SearchBinding"),
    "replay": ("replay.wsdl", "{http://www.onvif.org/ver10/replay/wsdl}ReplayBinding"),
}


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def service(sim: NvrSimulator, http: requests.Session, name: str, password: str = PASSWORD) -> Any:
    wsdl, binding = SERVICES[name]
    client = Client(
        str(WSDL_DIR / wsdl), transport=Transport(session=http),
        wsse=UsernameToken(USER, password, use_digest=True),
    )  # fmt: skip
    return client.create_service(binding, sim.endpoints.device_service)


def test_device_operations(simulator: NvrSimulator, session: requests.Session) -> None:
    device = service(simulator, session, "device")
    clock = device.GetSystemDateAndTime().UTCDateTime
    told = datetime(clock.Date.Year, clock.Date.Month, clock.Date.Day, clock.Time.Hour,
                    clock.Time.Minute, clock.Time.Second, tzinfo=UTC)  # fmt: skip
    assert abs((told - datetime.now(UTC)).total_seconds()) < 5
    info = device.GetDeviceInformation()
    assert info.SerialNumber == simulator.config.serial
    namespaces = {s.Namespace for s in device.GetServices(IncludeCapability=False)}
    assert "http://www.onvif.org/ver10/replay/wsdl" in namespaces
    caps = device.GetCapabilities()
    assert caps.Media.StreamingCapabilities.RTP_RTSP_TCP is True


def test_wrong_password_is_not_authorized(
    simulator: NvrSimulator, session: requests.Session
) -> None:
    device = service(simulator, session, "device", password="salah")
    with pytest.raises(Fault) as caught:
        device.GetDeviceInformation()
    assert [q.localname for q in caught.value.subcodes] == ["NotAuthorized"]


def test_media_recording_and_replay(simulator: NvrSimulator, session: requests.Session) -> None:
    profiles = service(simulator, session, "media").GetProfiles()
    assert [p.token for p in profiles] == ["Profile_1", "Profile_2"]
    uri = service(simulator, session, "media").GetStreamUri(
        StreamSetup={"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
        ProfileToken="Profile_1",
    )
    assert uri.Uri.startswith(f"rtsp://127.0.0.1:{simulator.endpoints.rtsp_port}/")
    recordings = service(simulator, session, "recording").GetRecordings()
    assert [r.RecordingToken for r in recordings] == ["Recording_1", "Recording_2"]
    jobs = service(simulator, session, "recording").GetRecordingJobs()
    assert jobs[1].JobConfiguration.RecordingToken == "Recording_2"
    replay = service(simulator, session, "replay").GetReplayUri(
        StreamSetup={"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
        RecordingToken="Recording_2",
    )
    assert replay == simulator.endpoints.rtsp("/onvif/replay/Recording_2")


def poll(search: Any, operation: str, token: str) -> list[Any]:
    """Poll a search session until Completed, as a client must."""
    results: list[Any] = []
    for _ in range(10):
        answer = getattr(search, operation)(SearchToken=token, WaitTime="PT1S")
        results += answer.RecordingInformation if operation.startswith("GetRec") else answer.Result
        if answer.SearchState == "Completed":
            return results
    raise AssertionError("search never completed")


def test_search_recordings(simulator: NvrSimulator, session: requests.Session) -> None:
    search = service(simulator, session, "search")
    summary = search.GetRecordingSummary()
    assert summary.NumberRecordings == 2
    assert summary.DataUntil - summary.DataFrom >= timedelta(minutes=59)
    token = search.FindRecordings(Scope={}, KeepAliveTime="PT10S")
    found = poll(search, "GetRecordingSearchResults", token)
    assert {r.RecordingToken for r in found} == {"Recording_1", "Recording_2"}
    info = search.GetRecordingInformation(RecordingToken="Recording_1")
    assert info.EarliestRecording == summary.DataFrom
    assert search.EndSearch(SearchToken=token) is not None


def test_find_events_reports_gaps(
    simulator: NvrSimulator, session: requests.Session, anchor: datetime
) -> None:
    """The motion camera misses every 4th 10-s segment: data stops at +30 s, resumes at +40 s."""
    search = service(simulator, session, "search")
    token = search.FindEvents(
        StartPoint=anchor, EndPoint=anchor + timedelta(seconds=60),
        Scope={"IncludedRecordings": ["Recording_2"]}, SearchFilter={},
        IncludeStartState=True, KeepAliveTime="PT10S",
    )  # fmt: skip
    events = poll(search, "GetEventSearchResults", token)
    times = [e.Time for e in events]
    assert times == [anchor, anchor + timedelta(seconds=30), anchor + timedelta(seconds=40)]
    search.EndSearch(SearchToken=token)


def test_search_session_expires_after_keepalive(
    simulator: NvrSimulator, session: requests.Session
) -> None:
    search = service(simulator, session, "search")
    token = search.FindRecordings(Scope={}, KeepAliveTime="PT1S")
    time.sleep(1.3)
    with pytest.raises(Fault, match="expired"):
        search.GetRecordingSearchResults(SearchToken=token)


def test_isapi(simulator: NvrSimulator, anchor: datetime) -> None:
    auth = httpx.DigestAuth(USER, PASSWORD)
    with httpx.Client(base_url=simulator.endpoints.http(""), auth=auth) as http:
        assert http.get("/ISAPI/System/time", auth=None).status_code == 401
        assert "<localTime>" in http.get("/ISAPI/System/time").text
        assert simulator.config.serial in http.get("/ISAPI/System/deviceInfo").text
        start, end = anchor, anchor + timedelta(seconds=60)
        body = (
            '<CMSearchDescription xmlns="http://www.hikvision.com/ver20/XMLSchema">'
            "<searchID>X</searchID><trackIDList><trackID>201</trackID></trackIDList>"
            f"<timeSpanList><timeSpan><startTime>{start:%Y-%m-%dT%H:%M:%SZ}</startTime>"
            f"<endTime>{end:%Y-%m-%dT%H:%M:%SZ}</endTime></timeSpan></timeSpanList>"
            "<maxResults>40</maxResults><searchResultPostion>0</searchResultPostion>"
            "</CMSearchDescription>"
        )
        answer = http.post("/ISAPI/ContentMgmt/search", content=body).text
    # One match per recorded file (10-s segment): the motion camera misses +30 s to +40 s.
    assert "<numOfMatches>5</numOfMatches>" in answer
    assert f"starttime={start:%Y%m%dT%H%M%S}Z" in answer
    assert f"name=ch02_{int(start.timestamp()):017d}&amp;size=" in answer


def test_dahua_media_file_find(simulator: NvrSimulator, anchor: datetime) -> None:
    local = timedelta(hours=7)
    start, end = anchor + local, anchor + local + timedelta(seconds=60)
    cgi = simulator.endpoints.http("/cgi-bin/mediaFileFind.cgi")
    with httpx.Client(auth=httpx.DigestAuth(USER, PASSWORD)) as http:
        object_id = http.get(cgi, params={"action": "factory.create"}).text.strip().split("=")[1]
        condition = {"action": "findFile", "object": object_id, "condition.Channel": "2",
                     "condition.StartTime": f"{start:%Y-%m-%d %H:%M:%S}",
                     "condition.EndTime": f"{end:%Y-%m-%d %H:%M:%S}"}  # fmt: skip
        assert http.get(cgi, params=condition).text.strip() == "OK"
        found = http.get(cgi, params={"action": "findNextFile", "object": object_id, "count": 10})
        assert http.get(cgi, params={"action": "close", "object": object_id}).text.strip() == "OK"
    lines = found.text.split("\r\n")
    assert lines[0] == "found=5"  # one per recorded file (10-s segment), the gap left out
    assert f"items[0].StartTime={start:%Y-%m-%d %H:%M:%S}" in lines
    assert f"items[4].EndTime={end:%Y-%m-%d %H:%M:%S}" in lines
    first = f"{start:%H.%M.%S}-{start + timedelta(seconds=10):%H.%M.%S}"
    path = f"/mnt/dvr/sda0/{start:%Y-%m-%d}/002/dav/{start:%H}/{first}[M][0@0][0].dav"
    assert f"items[0].FilePath={path}" in lines


def test_cli_program_with_config_file_and_clock_offset(tmp_path: Path) -> None:
    """`python -m nvr_sim` prints its endpoints; GetSystemDateAndTime honours the clock offset."""
    config = tmp_path / "sim.json"
    config.write_text('{"clock_offset": 3600, "cameras": [{"channel": 1, "name": "Lobi"}]}')
    command = [sys.executable, "-m", "nvr_sim", "--http-port", "0", "--rtsp-port", "0",
               "--cache-dir", str(tmp_path), "--config", str(config)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as program:
        assert program.stdout is not None
        try:
            lines = [program.stdout.readline() for _ in range(3)]
            xaddr = lines[1].split()[-1]
            with requests.Session() as http:
                client = Client(str(WSDL_DIR / SERVICES["device"][0]),
                                transport=Transport(session=http))  # fmt: skip
                device = client.create_service(SERVICES["device"][1], xaddr)
                clock = device.GetSystemDateAndTime().UTCDateTime
        finally:
            program.terminate()
            program.wait(timeout=10)
            program.stdout.close()
    assert "1 cameras" in lines[0]
    told = datetime(clock.Date.Year, clock.Date.Month, clock.Date.Day, clock.Time.Hour,
                    clock.Time.Minute, clock.Time.Second, tzinfo=UTC)  # fmt: skip
    assert abs((told - datetime.now(UTC)).total_seconds() - 3600) < 5


def test_an_h265_camera_is_described_as_h265(
    tmp_path: Path, session: requests.Session, anchor: datetime
) -> None:
    """GetRecordings, GetRecordingInformation and ISAPI's codecType name each camera's codec."""
    cameras = (CameraConfig(1, "Kamera 1"), CameraConfig(2, "Kamera 2", codec="h265"))
    with running(small_config(tmp_path, cameras)) as sim:
        recordings = service(sim, session, "recording").GetRecordings()
        search = service(sim, session, "search")
        information = [
            search.GetRecordingInformation(RecordingToken=c.recording_token) for c in cameras
        ]
        body = (
            '<CMSearchDescription xmlns="http://www.hikvision.com/ver20/XMLSchema">'
            "<searchID>X</searchID><trackIDList><trackID>201</trackID></trackIDList>"
            f"<timeSpanList><timeSpan><startTime>{anchor:%Y-%m-%dT%H:%M:%SZ}</startTime>"
            f"<endTime>{anchor + timedelta(seconds=20):%Y-%m-%dT%H:%M:%SZ}</endTime></timeSpan>"
            "</timeSpanList><maxResults>40</maxResults></CMSearchDescription>"
        )
        auth = httpx.DigestAuth(USER, PASSWORD)
        with httpx.Client(base_url=sim.endpoints.http(""), auth=auth) as http:
            answer = http.post("/ISAPI/ContentMgmt/search", content=body).text

    described = [r.Tracks.Track[0].Configuration.Description for r in recordings]
    assert described == ["H.264", "H.265"]
    assert [i.Track[0].Description for i in information] == ["H.264", "H.265"]
    assert "<codecType>H.265</codecType>" in answer
    assert "H.264" not in answer
