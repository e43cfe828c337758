"""Indonesian words for numbers, days, months and dates, as the office's letters write them."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

DAY_NAMES = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
MONTH_NAMES = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
_UNITS = (
    "nol",
    "satu",
    "dua",
    "tiga",
    "empat",
    "lima",
    "enam",
    "tujuh",
    "delapan",
    "sembilan",
    "sepuluh",
    "sebelas",
)
# Scale words from the largest down; "se-" replaces "satu" only for ribu (seribu), never for juta.
_SCALES = ((10**12, "triliun"), (10**9, "miliar"), (10**6, "juta"), (10**3, "ribu"))
MAX_TERBILANG = 10**15 - 1


def terbilang(number: int) -> str:
    """Write a whole number from 0 to 999 999 999 999 999 in Indonesian words."""
    if not 0 <= number <= MAX_TERBILANG:
        raise ValueError(f"terbilang supports 0..{MAX_TERBILANG}, got {number}")
    if number == 0:
        return _UNITS[0]
    words: list[str] = []
    rest = number
    for scale, name in _SCALES:
        count, rest = divmod(rest, scale)
        if count == 1 and scale == 1000:
            words.append("seribu")
        elif count:
            words.append(f"{_below_thousand(count)} {name}")
    if rest:
        words.append(_below_thousand(rest))
    return " ".join(words)


def _below_thousand(number: int) -> str:
    hundreds, rest = divmod(number, 100)
    words: list[str] = []
    if hundreds == 1:
        words.append("seratus")
    elif hundreds:
        words.append(f"{_UNITS[hundreds]} ratus")
    if rest:
        words.append(_below_hundred(rest))
    return " ".join(words)


def _below_hundred(number: int) -> str:
    if number < len(_UNITS):
        return _UNITS[number]
    if number < 20:
        return f"{_UNITS[number - 10]} belas"
    tens, unit = divmod(number, 10)
    head = f"{_UNITS[tens]} puluh"
    return f"{head} {_UNITS[unit]}" if unit else head


def day_name(day: date) -> str:
    """Name the weekday of a calendar date in Indonesian (Senin … Minggu)."""
    return DAY_NAMES[day.weekday()]


def month_name(month: int) -> str:
    """Name a month (1–12) in Indonesian."""
    return MONTH_NAMES[month - 1]


def format_date(day: date) -> str:
    """Write a date the way letters do: ``20 November 2026``."""
    return f"{day.day} {month_name(day.month)} {day.year}"


def local_date(moment: datetime, zone: tzinfo) -> date:
    """Return the calendar date of a tz-aware instant in the office's zone."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: an instant must carry its time zone")
    return moment.astimezone(zone).date()


def date_in_words(day: date) -> str:
    """Write the opening of a berita acara: ``Minggu tanggal dua puluh dua bulan … tahun …``."""
    return (
        f"{day_name(day)} tanggal {terbilang(day.day)} bulan {month_name(day.month)} "
        f"tahun {terbilang(day.year)}"
    )
