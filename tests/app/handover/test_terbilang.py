"""Indonesian number and date words, table-driven."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from app.handover.terbilang import (
    date_in_words,
    day_name,
    format_date,
    local_date,
    month_name,
    terbilang,
)

CASES = [
    (0, "nol"),
    (1, "satu"),
    (10, "sepuluh"),
    (11, "sebelas"),
    (12, "dua belas"),
    (19, "sembilan belas"),
    (20, "dua puluh"),
    (21, "dua puluh satu"),
    (22, "dua puluh dua"),
    (99, "sembilan puluh sembilan"),
    (100, "seratus"),
    (101, "seratus satu"),
    (110, "seratus sepuluh"),
    (111, "seratus sebelas"),
    (200, "dua ratus"),
    (999, "sembilan ratus sembilan puluh sembilan"),
    (1000, "seribu"),
    (1001, "seribu satu"),
    (1100, "seribu seratus"),
    (2026, "dua ribu dua puluh enam"),
    (10000, "sepuluh ribu"),
    (11000, "sebelas ribu"),
    (100000, "seratus ribu"),
    (101000, "seratus satu ribu"),
    (1000000, "satu juta"),
    (2000000, "dua juta"),
    (1001001, "satu juta seribu satu"),
    (
        123456789,
        "seratus dua puluh tiga juta empat ratus lima puluh enam ribu "
        "tujuh ratus delapan puluh sembilan",
    ),
    (
        999999999,
        "sembilan ratus sembilan puluh sembilan juta sembilan ratus sembilan puluh sembilan ribu "
        "sembilan ratus sembilan puluh sembilan",
    ),
    (1000000000, "satu miliar"),
]


@pytest.mark.parametrize(("number", "words"), CASES)
def test_terbilang(number: int, words: str) -> None:
    assert terbilang(number) == words


@pytest.mark.parametrize("number", [-1, 10**15])
def test_terbilang_refuses_out_of_range(number: int) -> None:
    with pytest.raises(ValueError, match="terbilang supports"):
        terbilang(number)


def test_every_day_of_a_week() -> None:
    # 16 November 2026 is a Monday.
    names = [day_name(date(2026, 11, 16 + offset)) for offset in range(7)]
    assert names == ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]


def test_month_names() -> None:
    assert [month_name(month) for month in (1, 2, 8, 11, 12)] == [
        "Januari",
        "Februari",
        "Agustus",
        "November",
        "Desember",
    ]


def test_twenty_second_of_november_2026() -> None:
    assert date_in_words(date(2026, 11, 22)) == (
        "Minggu tanggal dua puluh dua bulan November tahun dua ribu dua puluh enam"
    )
    assert format_date(date(2026, 11, 20)) == "20 November 2026"


def test_weekday_is_taken_in_the_office_zone_not_utc() -> None:
    """Guards against dating a handover by its UTC day: 21 Nov 17:30 UTC is Sunday 22 in WIB."""
    moment = datetime(2026, 11, 21, 17, 30, tzinfo=UTC)
    assert day_name(moment.date()) == "Sabtu"
    assert day_name(local_date(moment, ZoneInfo("Asia/Jakarta"))) == "Minggu"


def test_local_date_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_date(datetime(2026, 11, 22, 10, 0), ZoneInfo("Asia/Jakarta"))  # noqa: DTZ001
