"""Dates, times and amounts reach each reader in their own language and the case's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from jinja2 import Environment

from threads.locales import FILTERS, date_and_time, long_date, money

WINTER = datetime(2026, 12, 9, 13, 40, tzinfo=UTC)  # 14:40 in Amsterdam
SUMMER = datetime(2026, 7, 1, 12, 5, tzinfo=UTC)  # 14:05 in Amsterdam


@pytest.mark.parametrize(("lang", "expected"), [
    ("nl", "9 december 2026 om 14:40"),
    ("en", "9 December 2026 at 14:40"),
])
def test_a_moment_is_written_in_local_time_in_the_readers_language(lang, expected):
    assert date_and_time(WINTER, lang, "Europe/Amsterdam") == expected


def test_summer_time_is_two_hours_ahead_of_utc_in_amsterdam():
    assert date_and_time(SUMMER, "nl", "Europe/Amsterdam") == "1 juli 2026 om 14:05"


def test_a_naive_stored_time_is_taken_as_utc():
    naive = WINTER.replace(tzinfo=None)  # SQLite gives stored times back without a zone
    assert date_and_time(naive, "en", "Europe/Amsterdam") == "9 December 2026 at 14:40"


def test_another_case_time_zone_moves_the_date_too():
    late = datetime(2026, 12, 9, 23, 30, tzinfo=UTC)
    assert long_date(late, "en", "Europe/Amsterdam") == "10 December 2026"
    assert long_date(late, "en", "Europe/London") == "9 December 2026"


def test_a_plain_date_has_no_zone_to_apply():
    assert long_date(date(2011, 5, 1), "nl") == "1 mei 2011"


@pytest.mark.parametrize(("lang", "amount", "expected"), [
    ("nl", 1234.5, "€\xa01.234,50"),
    ("en", 1234.5, "€1,234.50"),
    ("nl", 120, "€\xa0120,00"),
])
def test_money_is_written_as_the_readers_language_writes_it(lang, amount, expected):
    assert money(amount, lang) == expected


def test_templates_read_language_and_zone_from_their_context():
    env = Environment()
    env.filters.update(FILTERS)
    template = env.from_string("{{ at|datetime }} | {{ fee|money }} | {{ at|date }}")
    assert template.render(at=WINTER, fee=99.95, lang="nl", zone="Europe/Amsterdam") == (
        "9 december 2026 om 14:40 | €\xa099,95 | 9 december 2026")
    assert template.render(at=WINTER, fee=99.95, lang="en", zone="Europe/Amsterdam") == (
        "9 December 2026 at 14:40 | €99.95 | 9 December 2026")
