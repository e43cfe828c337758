"""HTTP downloads: ISAPI ContentMgmt/download and Dahua loadfile/RPC_Loadfile, by time range and
by a search result's file, byte for byte the native file of what the archive replays; offered
as the profile says, within the device's sessions and link."""

from __future__ import annotations

import html
import re
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from nvr_sim import NvrSimulator, default_cameras
from nvr_sim.native import dav_stream, ps_stream
from tests.nvr_sim.conftest import PASSWORD, USER, device_config, running, small_config
from tests.nvr_sim.replay_client import ReplayClient

WIB = ZoneInfo("Asia/Jakarta")
DOWNLOAD, LOADFILE = "/ISAPI/ContentMgmt/download", "/cgi-bin/loadfile.cgi"


@pytest.fixture(scope="module")
def sim(sim_cache: Path) -> Iterator[NvrSimulator]:
    """The default profile offers both vendors' downloads."""
    with running(small_config(sim_cache, default_cameras(2))) as simulator:
        yield simulator


def client(sim: NvrSimulator) -> httpx.Client:
    return httpx.Client(base_url=sim.endpoints.http(""), auth=httpx.DigestAuth(USER, PASSWORD))


def expected(sim: NvrSimulator, channel: int, start: datetime, end: datetime, kind: str) -> bytes:
    """The native file of what the archive replays for the range."""
    camera = sim.config.camera(channel)
    units = [item.unit for item in sim.archive.replay(camera, start, end)]
    if kind == "ps":
        return b"".join(ps_stream(units, camera.codec))
    return b"".join(dav_stream(units, camera.codec, WIB, channel))


def playback_uri(sim: NvrSimulator, channel: int, start: datetime, end: datetime) -> str:
    """A playbackURI as an ISAPI search gives it (without a file name: a time range)."""
    query = f"starttime={start:%Y%m%dT%H%M%S}Z&endtime={end:%Y%m%dT%H%M%S}Z"
    return sim.endpoints.rtsp(f"/Streaming/tracks/{channel}01/?{query}")


def timed_download(sim: NvrSimulator, start: datetime, end: datetime) -> tuple[int, float, float]:
    """Download camera 1's range: bytes, and when the first and the last arrived."""
    request = download_request(playback_uri(sim, 1, start, end))
    first = last = 0.0
    size = 0
    with client(sim) as http, http.stream("POST", DOWNLOAD, content=request) as answer:
        for chunk in answer.iter_bytes():
            last = time.perf_counter()
            first = first or last
            size += len(chunk)
    return size, first, last


def download_request(uri: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><downloadRequest version="1.0" '
        'xmlns="http://www.isapi.org/ver20/XMLSchema">'
        f"<playbackURI>{html.escape(uri)}</playbackURI></downloadRequest>"
    )


def local(moment: datetime) -> str:
    return f"{moment.astimezone(WIB):%Y-%m-%d %H:%M:%S}"


def test_downloads_need_digest(sim: NvrSimulator) -> None:
    with httpx.Client(base_url=sim.endpoints.http("")) as http:
        answers = [
            http.post(DOWNLOAD, content=download_request("rtsp://x/Streaming/tracks/101/")),
            http.get(LOADFILE, params={"action": "startLoad", "channel": "1"}),
            http.get("/cgi-bin/RPC_Loadfile/mnt/dvr/sda0/x.dav"),
        ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert all(a.headers["www-authenticate"].startswith("Digest ") for a in answers)


def test_isapi_downloads_a_time_range(sim: NvrSimulator, anchor: datetime) -> None:
    """From the key frame at or before the start to the last unit before the end."""
    start, end = anchor + timedelta(seconds=3), anchor + timedelta(seconds=9)
    uri = playback_uri(sim, 1, start, end)
    with client(sim) as http:
        posted = http.post(DOWNLOAD, content=download_request(uri))
        # hikvision-download-assistant's curl: GET with the request as its body.
        got = http.request("GET", DOWNLOAD, content=download_request(uri))
        # Others put the URI in the query, its `&` unencoded, or encoded.
        queried = http.get(f"{DOWNLOAD}?playbackURI={uri}")
        encoded = http.get(DOWNLOAD, params={"playbackURI": uri})

    truth = expected(sim, 1, start, end, "ps")
    assert posted.status_code == 200
    assert posted.headers["content-type"] == "Opaque/data"
    assert posted.content[:4] == b"IMKH"
    assert posted.content == truth
    assert got.content == queried.content == encoded.content == truth
    first = next(sim.archive.replay(sim.config.camera(1), start, end)).unit
    assert first.time == anchor + timedelta(seconds=2)


def test_isapi_downloads_a_search_result_file_by_name(sim: NvrSimulator, anchor: datetime) -> None:
    """A name sends its whole file; once a download has sent it whole, search reports its
    exact size."""
    search = (
        '<CMSearchDescription xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        "<searchID>X</searchID><trackList><trackID>101</trackID></trackList>"
        f"<timeSpanList><timeSpan><startTime>{anchor + timedelta(seconds=12):%Y-%m-%dT%H:%M:%SZ}"
        f"</startTime><endTime>{anchor + timedelta(seconds=18):%Y-%m-%dT%H:%M:%SZ}</endTime>"
        "</timeSpan></timeSpanList><maxResults>40</maxResults></CMSearchDescription>"
    )
    with client(sim) as http:
        [uri] = re.findall(
            r"<playbackURI>(.*?)</playbackURI>",
            http.post("/ISAPI/ContentMgmt/search", content=search).text,
        )
        body = http.post(DOWNLOAD, content=download_request(html.unescape(uri))).content
        [again] = re.findall(
            r"size=(\d+)<", http.post("/ISAPI/ContentMgmt/search", content=search).text
        )

    file = anchor + timedelta(seconds=10)
    assert f"name=ch01_{int(file.timestamp()):017d}" in uri
    assert body == expected(sim, 1, file, file + timedelta(seconds=10), "ps")
    assert int(again) == len(body)


def test_dahua_loadfile_downloads_a_time_range(sim: NvrSimulator, anchor: datetime) -> None:
    start, end = anchor + timedelta(seconds=3), anchor + timedelta(seconds=9)
    params = {"action": "startLoad", "channel": "2", "startTime": local(start),
              "endTime": local(end), "subtype": "0"}  # fmt: skip
    with client(sim) as http:
        answer = http.get(LOADFILE, params=params)
        wrong = http.get(LOADFILE, params=params | {"channel": "9"})

    assert answer.status_code == 200
    assert answer.content[:4] == b"DHAV"
    assert answer.content == expected(sim, 2, start, end, "dav")
    assert wrong.status_code == 400


def test_dahua_rpc_loadfile_downloads_a_found_file(sim: NvrSimulator, anchor: datetime) -> None:
    cgi = "/cgi-bin/mediaFileFind.cgi"
    start, end = anchor + timedelta(seconds=22), anchor + timedelta(seconds=28)
    condition = {"action": "findFile", "condition.Channel": "1",
                 "condition.StartTime": local(start), "condition.EndTime": local(end)}  # fmt: skip

    def find(http: httpx.Client) -> dict[str, str]:
        object_id = http.get(cgi, params={"action": "factory.create"}).text.strip().split("=")[1]
        http.get(cgi, params=condition | {"object": object_id})
        found = http.get(cgi, params={"action": "findNextFile", "object": object_id, "count": 5})
        http.get(cgi, params={"action": "close", "object": object_id})
        return dict(line.split("=", 1) for line in found.text.split("\r\n")[1:] if line)

    with client(sim) as http:
        item = find(http)
        body = http.get("/cgi-bin/RPC_Loadfile" + item["items[0].FilePath"]).content
        length = find(http)["items[0].Length"]
        missing = http.get("/cgi-bin/RPC_Loadfile/mnt/dvr/sda0/2000-01-01/001/dav/00/x.dav")

    file = anchor + timedelta(seconds=20)
    assert (item["items[0].Type"], item["items[0].VideoStream"]) == ("dav", "Main")
    assert item["items[0].Flags[0]"] == "Timing"
    assert body[:4] == b"DHAV"
    assert body == expected(sim, 1, file, file + timedelta(seconds=10), "dav")
    assert int(length) == len(body)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("profile", "refused"),
    [("onvif-generic", {"isapi", "loadfile"}), ("hikvision-ds7608", {"loadfile"}),
     ("dahua-nvr4108", {"isapi"})],
)  # fmt: skip
def test_a_download_the_device_lacks_is_404(
    sim_cache: Path, anchor: datetime, profile: str, refused: set[str]
) -> None:
    start, end = anchor, anchor + timedelta(seconds=4)
    times = {"startTime": local(start), "endTime": local(end)}
    config = device_config(sim_cache, default_cameras(1), profile)
    with running(config) as device, client(device) as http:
        request = download_request(playback_uri(device, 1, start, end))
        answers = {
            "isapi": http.post(DOWNLOAD, content=request),
            "loadfile": http.get(LOADFILE, params={"action": "startLoad", "channel": "1"} | times),
        }
    assert {kind for kind, answer in answers.items() if answer.status_code == 404} == refused
    assert all(answers[kind].status_code == 200 for kind in answers.keys() - refused)


def test_sessions_are_shared_between_playback_and_downloads(
    sim_cache: Path, anchor: datetime
) -> None:
    """One session: an RTSP playback takes it (503 for a download); a download takes it (453
    for a playback); each gives it back when it ends."""
    # 8 s at 2 Mbit/s is 2 MB: at 0.2 Mbit/s the download outlasts the test by far, whatever the
    # link's burst and the sockets' buffers hold (the bare footage, ~40 kB, could fit in them).
    config = device_config(
        sim_cache,
        default_cameras(1),
        "hikvision-ds7608",
        playback_sessions=1,
        link_mbps=0.2,
        bitrate_kbps=2000,
    )
    with running(config) as device, client(device) as http:
        url = playback_uri(device, 1, anchor, anchor + timedelta(seconds=8))
        request = download_request(url)
        rtsp = ReplayClient(device.endpoints.rtsp_port, USER, PASSWORD)
        try:
            assert rtsp.request("DESCRIBE", url).status == 200
            busy = http.post(DOWNLOAD, content=request).status_code
            rtsp.request("TEARDOWN", url)
            with http.stream("POST", DOWNLOAD, content=request) as downloading:
                next(downloading.iter_bytes())  # the download runs, for ~80 s, on a 0.2 Mbit/s link
                refused = rtsp.request("DESCRIBE", url).status
            admitted = describe_until_admitted(rtsp, url)
        finally:
            rtsp.close()

    assert (busy, downloading.status_code, refused, admitted) == (503, 200, 453, 200)


def describe_until_admitted(rtsp: ReplayClient, url: str, within: float = 15.0) -> int:
    """DESCRIBE until the device admits it or `within` seconds pass; the last status. The
    device notices a download's client left at its next write, which on a slow link paced
    in 64 KiB slices comes seconds later."""
    deadline = time.monotonic() + within
    while (status := rtsp.request("DESCRIBE", url).status) != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    return status


def test_two_downloads_share_the_link(sim_cache: Path, anchor: datetime) -> None:
    """32 Mbit/s, footage at 8 Mbit/s: two 6-s downloads (6 MB each) take about 3 s together,
    each at about half the link, and the link is used to the full."""
    mbps = 32.0
    config = small_config(sim_cache, default_cameras(1), link_mbps=mbps, bitrate_kbps=8000)
    ranges = [
        (anchor, anchor + timedelta(seconds=6)),
        (anchor + timedelta(seconds=10), anchor + timedelta(seconds=16)),
    ]
    results: list[tuple[int, float, float]] = []
    with running(config) as device:
        for start, end in ranges:
            list(device.archive.replay(config.camera(1), start, end))  # encode ahead

        def record(start: datetime, end: datetime) -> None:
            results.append(timed_download(device, start, end))

        threads = [threading.Thread(target=record, args=r) for r in ranges]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    began, ended = min(r[1] for r in results), max(r[2] for r in results)
    total = sum(r[0] for r in results) * 8 / (ended - began) / 1e6
    assert 0.9 * mbps <= total <= 1.05 * mbps
    for size, first, last in results:
        assert size > 5_500_000
        assert 0.35 * mbps <= size * 8 / (last - first) / 1e6 <= 0.65 * mbps


def test_a_long_download_holds_little_memory(sim_cache: Path, anchor: datetime) -> None:
    """A minute at 4 Mbit/s (30 MB) goes out a batch at a time: the simulator never holds the
    file, so 20 minutes of 4 cameras would not either."""
    config = small_config(sim_cache, default_cameras(1), bitrate_kbps=4000)
    start, end = anchor - timedelta(minutes=1), anchor
    with running(config) as device, client(device) as http:
        list(device.archive.replay(config.camera(1), start, end))  # encode ahead
        request = download_request(playback_uri(device, 1, start, end))
        tracemalloc.start()
        try:
            with http.stream("POST", DOWNLOAD, content=request) as answer:
                size = sum(len(chunk) for chunk in answer.iter_bytes())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert size > 29_000_000
    assert peak < 8_000_000
