"""Dates, times and money as the reader's language writes them, in the case's time zone.

Everything is stored in UTC; a person reads local time. Babel's CLDR data does the wording:
"9 december 2026" and "€ 1.234,50" for a Dutch reader, "9 December 2026" and "€1,234.50" for
an English one (British forms: day before month, as the parties of a Dutch practice expect).
The Jinja filters read ``lang`` and ``zone`` from the template's context, so a template writes
``{{ signed_at|datetime }}`` and every reader gets their own form.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context

from threads.i18n import translate

LOCALES = {"nl": "nl_NL", "en": "en_GB"}
DEFAULT_ZONE = "Europe/Amsterdam"


def locale_of(lang: str | None) -> str:
    return LOCALES.get((lang or "").split("_")[0].lower(), LOCALES["en"])


def local(moment: datetime, zone: str | None = None) -> datetime:
    """The moment in ``zone``; a naive datetime is UTC (as SQLite hands stored times back)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone or DEFAULT_ZONE))


def long_date(value: date | datetime | str, lang: str | None, zone: str | None = None) -> str:
    """'9 december 2026' / '9 December 2026'; a string is an ISO day ('2026-12-09'), as the
    digest keeps its summary (JSON, fingerprinted)."""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime):
        value = local(value, zone)
    return format_date(value, "long", locale=locale_of(lang))


def clock(value: datetime, lang: str | None, zone: str | None = None) -> str:
    """'14:40' in the reader's zone (both languages write the 24-hour clock here)."""
    return format_time(local(value, zone), "HH:mm", locale=locale_of(lang))


def date_and_time(value: datetime, lang: str | None, zone: str | None = None) -> str:
    """'9 december 2026 om 14:40' / '9 December 2026 at 14:40'."""
    return translate(lang, "%(date)s at %(time)s", date=long_date(value, lang, zone),
                     time=clock(value, lang, zone))


def when(value: datetime, lang: str | None, zone: str | None = None,
         now: datetime | None = None) -> str:
    """'at 14:40' when that is today for the reader, else 'on 9 December 2026 at 14:40'
    ('om 14:40', 'op 9 december 2026 om 14:40'): a time alone must not mean tomorrow."""
    if local(value, zone).date() == local(now or datetime.now(UTC), zone).date():
        return translate(lang, "at %(time)s", time=clock(value, lang, zone))
    return translate(lang, "on %(date_and_time)s", date_and_time=date_and_time(value, lang, zone))


def money(amount: float | Decimal, lang: str | None, currency: str = "EUR") -> str:
    """'€ 1.234,50' / '€1,234.50'."""
    return format_currency(Decimal(str(amount)), currency, locale=locale_of(lang))


def number(amount: float | Decimal, lang: str | None) -> str:
    """'1.234,5' / '1,234.5': hours, percentages."""
    return format_decimal(Decimal(str(amount)), locale=locale_of(lang))


def _lang(context: Context) -> str | None:
    return context.get("lang")


def _zone(context: Context) -> str | None:
    return context.get("zone")


@pass_context
def _date_filter(context: Context, value: Any) -> str:
    return long_date(value, _lang(context), _zone(context)) if value else ""


@pass_context
def _datetime_filter(context: Context, value: Any) -> str:
    return date_and_time(value, _lang(context), _zone(context)) if value else ""


@pass_context
def _time_filter(context: Context, value: Any) -> str:
    return clock(value, _lang(context), _zone(context)) if value else ""


@pass_context
def _when_filter(context: Context, value: Any) -> str:
    return when(value, _lang(context), _zone(context)) if value else ""


@pass_context
def _money_filter(context: Context, value: Any, currency: str = "EUR") -> str:
    return money(value or 0, _lang(context), currency)


@pass_context
def _number_filter(context: Context, value: Any) -> str:
    return number(value or 0, _lang(context))


FILTERS = {
    "date": _date_filter,
    "datetime": _datetime_filter,
    "time": _time_filter,
    "when": _when_filter,
    "money": _money_filter,
    "number": _number_filter,
}
