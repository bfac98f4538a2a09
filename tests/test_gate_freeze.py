"""Freeze windows: absolute and weekly, across time zones and daylight-saving changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from flaggate.gates.freeze import Occurrence, active_occurrence, freeze_gate, next_start
from flaggate.model.policy import FreezeWindow
from flaggate.policy.result import GateStatus
from tests.gitrepo import GitRepo
from tests.test_plan_cli import BOTH_APPROVALS, CHECKOUT, changes_of, turn_on_checkout
from tests.test_validate_cli import line_containing, problem_lines

PASSED, FAILED = GateStatus.PASSED, GateStatus.FAILED
YEAR_END = "production freeze 'year-end' until 2027-01-04 09:00 Europe/Berlin"


def window(**fields: Any) -> FreezeWindow:
    """A window from YAML-like fields; ``from_`` stands for the ``from`` key."""
    if "from_" in fields:
        fields["from"] = fields.pop("from_")
    return FreezeWindow.model_validate({"name": "w", **fields})


def at(text: str) -> datetime:
    """An instant written with its UTC offset, as the gates receive it (in UTC)."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment.astimezone(UTC)


def judge(win: FreezeWindow, now: str) -> tuple[GateStatus, str]:
    result = freeze_gate("production", win, at(now))
    return result.status, result.message


def frozen_until(win: FreezeWindow, end: str) -> str:
    return f"production freeze {win.name!r} until {end}"


def next_from(start: str) -> str:
    return f"not frozen now; next freeze from {start}"


# --- absolute windows ----------------------------------------------------------------------

YEAR_END_WINDOW = window(
    name="year-end", start="2026-12-20T00:00", end="2027-01-04T09:00", timezone="Europe/Berlin"
)


@pytest.mark.parametrize(
    ("now", "status", "message"),
    [
        ("2026-12-19T23:59:59+01:00", PASSED, next_from("2026-12-20 00:00 Europe/Berlin")),
        ("2026-12-20T00:00+01:00", FAILED, YEAR_END),
        ("2026-12-19T23:00Z", FAILED, YEAR_END),  # the same instant written in UTC
        ("2026-12-25T12:00Z", FAILED, YEAR_END),
        ("2027-01-04T08:59:59+01:00", FAILED, YEAR_END),
        ("2027-01-04T09:00+01:00", PASSED, "not frozen now"),
        ("2027-01-04T08:00Z", PASSED, "not frozen now"),
        ("2027-06-01T00:00Z", PASSED, "not frozen now"),
    ],
)
def test_absolute_window_is_start_inclusive_end_exclusive(
    now: str, status: GateStatus, message: str
) -> None:
    assert judge(YEAR_END_WINDOW, now) == (status, message)


def test_gate_result_names_environment_and_kind() -> None:
    result = freeze_gate("production", YEAR_END_WINDOW, at("2026-12-24T18:00+01:00"))
    assert result.name == "production: freeze 'year-end'"
    assert (result.kind, result.environment) == ("freeze", "production")
    assert active_occurrence(YEAR_END_WINDOW, at("2026-12-24T18:00+01:00")) == Occurrence(
        at("2026-12-19T23:00Z"), at("2027-01-04T08:00Z")
    )


@pytest.mark.parametrize(
    ("win", "now", "status", "message"),
    [
        # Europe/Berlin springs forward on 2026-03-29: 09:00 on Monday is 07:00 UTC, not 08:00.
        (
            window(start="2026-03-27T18:00", end="2026-03-30T09:00", timezone="Europe/Berlin"),
            "2026-03-27T16:59Z",
            PASSED,
            next_from("2026-03-27 18:00 Europe/Berlin"),
        ),
        (
            window(start="2026-03-27T18:00", end="2026-03-30T09:00", timezone="Europe/Berlin"),
            "2026-03-27T17:00Z",
            FAILED,
            "production freeze 'w' until 2026-03-30 09:00 Europe/Berlin",
        ),
        (
            window(start="2026-03-27T18:00", end="2026-03-30T09:00", timezone="Europe/Berlin"),
            "2026-03-30T06:59:59Z",
            FAILED,
            "production freeze 'w' until 2026-03-30 09:00 Europe/Berlin",
        ),
        (
            window(start="2026-03-27T18:00", end="2026-03-30T09:00", timezone="Europe/Berlin"),
            "2026-03-30T07:00Z",
            PASSED,
            "not frozen now",
        ),
        # New York falls back on 2026-11-01: 09:00 on Monday is 14:00 UTC, not 13:00.
        (
            window(start="2026-10-30T18:00", end="2026-11-02T09:00", timezone="America/New_York"),
            "2026-10-30T22:00Z",
            FAILED,
            "production freeze 'w' until 2026-11-02 09:00 America/New_York",
        ),
        (
            window(start="2026-10-30T18:00", end="2026-11-02T09:00", timezone="America/New_York"),
            "2026-11-02T13:30Z",
            FAILED,
            "production freeze 'w' until 2026-11-02 09:00 America/New_York",
        ),
        (
            window(start="2026-10-30T18:00", end="2026-11-02T09:00", timezone="America/New_York"),
            "2026-11-02T14:00Z",
            PASSED,
            "not frozen now",
        ),
    ],
)
def test_absolute_window_ending_after_a_dst_change(
    win: FreezeWindow, now: str, status: GateStatus, message: str
) -> None:
    assert judge(win, now) == (status, message)


# --- weekly windows across daylight-saving changes -----------------------------------------

NIGHT = window(name="night", days=["sun"], from_="01:30", to="03:30", timezone="Europe/Berlin")
NIGHT_UNTIL = frozen_until(NIGHT, "{} 03:30 Europe/Berlin")


@pytest.mark.parametrize(
    ("now", "status", "message"),
    [
        # 2026-03-29: 01:30 is still CET (00:30 UTC), 03:30 is already CEST (01:30 UTC).
        ("2026-03-29T00:29:59Z", PASSED, next_from("2026-03-29 01:30 Europe/Berlin")),
        ("2026-03-29T00:30Z", FAILED, NIGHT_UNTIL.format("2026-03-29")),
        ("2026-03-29T01:00Z", FAILED, NIGHT_UNTIL.format("2026-03-29")),  # 03:00 CEST
        ("2026-03-29T01:29:59Z", FAILED, NIGHT_UNTIL.format("2026-03-29")),
        ("2026-03-29T01:30Z", PASSED, next_from("2026-04-05 01:30 Europe/Berlin")),
        # 2026-10-25: 01:30 is CEST (23:30 UTC the day before), 03:30 is CET (02:30 UTC).
        ("2026-10-24T23:29:59Z", PASSED, next_from("2026-10-25 01:30 Europe/Berlin")),
        ("2026-10-24T23:30Z", FAILED, NIGHT_UNTIL.format("2026-10-25")),
        ("2026-10-25T00:45Z", FAILED, NIGHT_UNTIL.format("2026-10-25")),  # first 02:45
        ("2026-10-25T01:45Z", FAILED, NIGHT_UNTIL.format("2026-10-25")),  # second 02:45
        ("2026-10-25T02:29:59Z", FAILED, NIGHT_UNTIL.format("2026-10-25")),
        ("2026-10-25T02:30Z", PASSED, next_from("2026-11-01 01:30 Europe/Berlin")),
    ],
)
def test_weekly_window_on_berlin_dst_sundays(now: str, status: GateStatus, message: str) -> None:
    assert judge(NIGHT, now) == (status, message)


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ("2026-03-29T01:00Z", "2026-03-29T00:30Z", "2026-03-29T01:30Z"),  # one real hour
        ("2026-10-25T01:00Z", "2026-10-24T23:30Z", "2026-10-25T02:30Z"),  # three real hours
        ("2026-10-18T01:00Z", "2026-10-17T23:30Z", "2026-10-18T01:30Z"),  # CEST: two hours
        ("2026-11-01T01:00Z", "2026-11-01T00:30Z", "2026-11-01T02:30Z"),  # CET: two hours
    ],
)
def test_weekly_occurrence_instants_across_dst(now: str, start: str, end: str) -> None:
    assert active_occurrence(NIGHT, at(now)) == Occurrence(at(start), at(end))


OFFICE = window(
    name="office",
    days=["mon", "tue", "wed", "thu", "fri"],
    from_="09:00",
    to="17:00",
    timezone="America/New_York",
)


def office_until(day: str) -> str:
    return frozen_until(OFFICE, f"{day} 17:00 America/New_York")


@pytest.mark.parametrize(
    ("now", "status", "message"),
    [
        # Friday 2026-03-06, EST (UTC-5): 09:00-17:00 local is 14:00-22:00 UTC.
        ("2026-03-06T13:30Z", PASSED, next_from("2026-03-06 09:00 America/New_York")),
        ("2026-03-06T14:00Z", FAILED, office_until("2026-03-06")),
        ("2026-03-06T21:59Z", FAILED, office_until("2026-03-06")),
        ("2026-03-06T22:00Z", PASSED, next_from("2026-03-09 09:00 America/New_York")),
        # Monday 2026-03-09, EDT (UTC-4): 09:00-17:00 local is 13:00-21:00 UTC.
        ("2026-03-09T12:59Z", PASSED, next_from("2026-03-09 09:00 America/New_York")),
        ("2026-03-09T13:00Z", FAILED, office_until("2026-03-09")),
        ("2026-03-09T13:30Z", FAILED, office_until("2026-03-09")),
        ("2026-03-09T20:59Z", FAILED, office_until("2026-03-09")),
        ("2026-03-09T21:00Z", PASSED, next_from("2026-03-10 09:00 America/New_York")),
        # Friday 2026-10-30, EDT: 13:00 UTC is 09:00 local.
        ("2026-10-30T12:59Z", PASSED, next_from("2026-10-30 09:00 America/New_York")),
        ("2026-10-30T13:00Z", FAILED, office_until("2026-10-30")),
        ("2026-10-30T21:00Z", PASSED, next_from("2026-11-02 09:00 America/New_York")),
        # Monday 2026-11-02, EST: 13:00 UTC is only 08:00 local, 21:30 UTC is 16:30.
        ("2026-11-02T13:00Z", PASSED, next_from("2026-11-02 09:00 America/New_York")),
        ("2026-11-02T14:00Z", FAILED, office_until("2026-11-02")),
        ("2026-11-02T21:30Z", FAILED, office_until("2026-11-02")),
        ("2026-11-02T22:00Z", PASSED, next_from("2026-11-03 09:00 America/New_York")),
        # Sunday 2026-11-01: not a listed day.
        ("2026-11-01T15:00Z", PASSED, next_from("2026-11-02 09:00 America/New_York")),
    ],
)
def test_weekday_window_keeps_local_hours_across_us_dst(
    now: str, status: GateStatus, message: str
) -> None:
    assert judge(OFFICE, now) == (status, message)


def test_weekday_window_start_instants_shift_in_utc() -> None:
    assert next_start(OFFICE, at("2026-03-06T22:00Z")) == at("2026-03-09T13:00Z")
    assert next_start(OFFICE, at("2026-10-30T21:00Z")) == at("2026-11-02T14:00Z")


# --- wrapping past midnight and merging contiguous days ------------------------------------

OVERNIGHT = window(
    name="overnight", days=["fri"], from_="18:00", to="08:00", timezone="Europe/Berlin"
)
OVERNIGHT_UNTIL = frozen_until(OVERNIGHT, "2026-11-28 08:00 Europe/Berlin")


@pytest.mark.parametrize(
    ("now", "status", "message"),
    [
        ("2026-11-27T07:00+01:00", PASSED, next_from("2026-11-27 18:00 Europe/Berlin")),
        ("2026-11-27T17:59+01:00", PASSED, next_from("2026-11-27 18:00 Europe/Berlin")),
        ("2026-11-27T18:00+01:00", FAILED, OVERNIGHT_UNTIL),
        ("2026-11-27T23:00+01:00", FAILED, OVERNIGHT_UNTIL),
        ("2026-11-28T00:00+01:00", FAILED, OVERNIGHT_UNTIL),
        ("2026-11-28T07:59+01:00", FAILED, OVERNIGHT_UNTIL),
        ("2026-11-28T07:59:59+01:00", FAILED, OVERNIGHT_UNTIL),
        ("2026-11-28T08:00+01:00", PASSED, next_from("2026-12-04 18:00 Europe/Berlin")),
        # Thursday night is not frozen: only Friday is listed.
        ("2026-11-27T06:00+01:00", PASSED, next_from("2026-11-27 18:00 Europe/Berlin")),
    ],
)
def test_overnight_wrap_runs_into_the_next_morning(
    now: str, status: GateStatus, message: str
) -> None:
    assert judge(OVERNIGHT, now) == (status, message)


SATURDAY_NIGHT = window(name="saturday-night", days=["sat"], from_="22:00", to="06:00")
SATURDAY_NIGHT_UNTIL = frozen_until(SATURDAY_NIGHT, "2026-11-29 06:00 UTC")


@pytest.mark.parametrize(
    ("now", "status", "message"),
    [
        ("2026-11-28T05:00Z", PASSED, next_from("2026-11-28 22:00 UTC")),  # Saturday morning
        ("2026-11-28T22:00Z", FAILED, SATURDAY_NIGHT_UNTIL),
        ("2026-11-29T00:00Z", FAILED, SATURDAY_NIGHT_UNTIL),  # Sunday, from the sat entry
        ("2026-11-29T05:59:59Z", FAILED, SATURDAY_NIGHT_UNTIL),
        ("2026-11-29T06:00Z", PASSED, next_from("2026-12-05 22:00 UTC")),
        ("2026-11-29T22:00Z", PASSED, next_from("2026-12-05 22:00 UTC")),  # Sunday night
    ],
)
def test_saturday_entry_wraps_into_sunday_morning(
    now: str, status: GateStatus, message: str
) -> None:
    assert judge(SATURDAY_NIGHT, now) == (status, message)


def test_equal_from_and_to_is_a_whole_day() -> None:
    win = window(days=["wed"], from_="08:00", to="08:00")
    assert active_occurrence(win, at("2026-12-03T07:59Z")) == Occurrence(
        at("2026-12-02T08:00Z"), at("2026-12-03T08:00Z")
    )
    assert active_occurrence(win, at("2026-12-03T08:00Z")) is None


WEEKENDS = window(name="weekends", days=["sat", "sun"], from_="00:00", to="23:59", timezone="UTC")
WEEKENDS_UNTIL = frozen_until(WEEKENDS, "2026-11-30 00:00 UTC")


@pytest.mark.parametrize(
    ("now", "status", "message"),
    [
        ("2026-11-27T23:59Z", PASSED, next_from("2026-11-28 00:00 UTC")),
        ("2026-11-27T23:59:59Z", PASSED, next_from("2026-11-28 00:00 UTC")),
        ("2026-11-28T00:00Z", FAILED, WEEKENDS_UNTIL),
        ("2026-11-28T23:59:30Z", FAILED, WEEKENDS_UNTIL),  # 23:59 is the end of the day
        ("2026-11-29T00:00Z", FAILED, WEEKENDS_UNTIL),
        ("2026-11-29T12:00Z", FAILED, WEEKENDS_UNTIL),
        ("2026-11-29T23:59:30Z", FAILED, WEEKENDS_UNTIL),
        ("2026-11-30T00:00Z", PASSED, next_from("2026-12-05 00:00 UTC")),
    ],
)
def test_weekend_days_merge_and_end_monday_midnight(
    now: str, status: GateStatus, message: str
) -> None:
    assert judge(WEEKENDS, now) == (status, message)


def test_merged_weekend_occurrence_instants() -> None:
    assert active_occurrence(WEEKENDS, at("2026-11-28T00:00Z")) == Occurrence(
        at("2026-11-28T00:00Z"), at("2026-11-30T00:00Z")
    )
    assert active_occurrence(WEEKENDS, at("2026-11-29T23:59:30Z")) == Occurrence(
        at("2026-11-29T00:00Z"), at("2026-11-30T00:00Z")
    )


def test_weekend_in_berlin_spanning_spring_forward_ends_monday_local_midnight() -> None:
    berlin = window(
        name="weekends", days=["sat", "sun"], from_="00:00", to="23:59", timezone="Europe/Berlin"
    )
    until = frozen_until(berlin, "2026-03-30 00:00 Europe/Berlin")
    assert judge(berlin, "2026-03-27T23:00Z") == (FAILED, until)  # Saturday 00:00 CET
    assert judge(berlin, "2026-03-29T21:59Z") == (FAILED, until)  # Sunday 23:59 CEST
    assert judge(berlin, "2026-03-29T22:00Z") == (
        PASSED,
        next_from("2026-04-04 00:00 Europe/Berlin"),
    )
    assert active_occurrence(berlin, at("2026-03-28T12:00Z")) == Occurrence(
        at("2026-03-27T23:00Z"), at("2026-03-29T22:00Z")
    )


# --- zones far from UTC: the local weekday is not the UTC weekday --------------------------


AUCKLAND_UNTIL = "production freeze 'w' until 2026-01-05 17:00 Pacific/Auckland"


@pytest.mark.parametrize(
    ("now", "status", "message"),
    [
        # Monday 09:00 in Auckland (NZDT, UTC+13) is Sunday 20:00 UTC.
        ("2026-01-04T19:59Z", PASSED, next_from("2026-01-05 09:00 Pacific/Auckland")),
        ("2026-01-04T20:00Z", FAILED, AUCKLAND_UNTIL),
        ("2026-01-05T03:59Z", FAILED, AUCKLAND_UNTIL),
        # Monday 04:00 UTC is 17:00 local; Monday 10:00 UTC is already Monday 23:00 local.
        ("2026-01-05T04:00Z", PASSED, next_from("2026-01-12 09:00 Pacific/Auckland")),
        ("2026-01-05T10:00Z", PASSED, next_from("2026-01-12 09:00 Pacific/Auckland")),
    ],
)
def test_auckland_monday_starts_on_a_utc_sunday(now: str, status: GateStatus, message: str) -> None:
    win = window(days=["mon"], from_="09:00", to="17:00", timezone="Pacific/Auckland")
    assert judge(win, now) == (status, message)


KOLKATA = window(
    name="weekends", days=["sat", "sun"], from_="00:00", to="23:59", timezone="Asia/Kolkata"
)
KOLKATA_UNTIL = frozen_until(KOLKATA, "2026-11-30 00:00 Asia/Kolkata")


@pytest.mark.parametrize(
    ("now", "status", "message"),
    [
        # The weekend in Kolkata (UTC+05:30) runs from Friday 18:30 to Sunday 18:30 UTC.
        ("2026-11-27T18:29:59Z", PASSED, next_from("2026-11-28 00:00 Asia/Kolkata")),
        ("2026-11-27T18:30Z", FAILED, KOLKATA_UNTIL),  # a Friday in UTC
        ("2026-11-29T18:29:59Z", FAILED, KOLKATA_UNTIL),
        ("2026-11-29T18:30Z", PASSED, next_from("2026-12-05 00:00 Asia/Kolkata")),  # a UTC Sunday
    ],
)
def test_kolkata_half_hour_offset_shifts_the_weekend(
    now: str, status: GateStatus, message: str
) -> None:
    assert judge(KOLKATA, now) == (status, message)


# --- the next start --------------------------------------------------------------------------


def test_next_start_of_weekly_window() -> None:
    monday = window(days=["mon"], from_="09:00", to="10:00")
    assert next_start(monday, at("2026-11-30T08:00Z")) == at("2026-11-30T09:00Z")
    assert next_start(monday, at("2026-11-30T09:00Z")) == at("2026-12-07T09:00Z")
    assert next_start(monday, at("2026-11-30T10:00Z")) == at("2026-12-07T09:00Z")
    assert next_start(monday, at("2026-12-06T23:59Z")) == at("2026-12-07T09:00Z")
    assert next_start(WEEKENDS, at("2026-11-30T10:00Z")) == at("2026-12-05T00:00Z")


def test_next_start_of_absolute_window() -> None:
    assert next_start(YEAR_END_WINDOW, at("2026-06-01T00:00Z")) == at("2026-12-19T23:00Z")
    assert next_start(YEAR_END_WINDOW, at("2026-12-19T23:00Z")) is None  # already started
    assert next_start(YEAR_END_WINDOW, at("2027-01-04T08:00Z")) is None  # over
    assert judge(YEAR_END_WINDOW, "2026-06-01T00:00Z") == (
        PASSED,
        next_from("2026-12-20 00:00 Europe/Berlin"),
    )


# --- loading ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"days": ["sat"], "from": "00:00", "to": "23:59", "timezone": "Mars/Olympus"},
            "unknown timezone 'Mars/Olympus'",
        ),
        (
            {"start": "2026-12-20T00:00", "end": "2027-01-04T09:00", "timezone": "Europe/Berlinn"},
            "unknown timezone 'Europe/Berlinn'",
        ),
        (
            {"start": "2027-01-04T09:00", "end": "2026-12-20T00:00"},
            "an absolute freeze window needs `start` before `end`",
        ),
        (
            {"start": "2026-12-20T00:00", "end": "2026-12-20T00:00"},
            "an absolute freeze window needs `start` before `end`",
        ),
        (
            {"start": "2026-12-20T00:00"},
            "an absolute freeze window needs `start` and `end`",
        ),
        (
            {"start": "2026-12-20T00:00", "end": "2027-01-04T09:00", "days": ["sat"]},
            "a freeze window has either `start`/`end` or `days`/`from`/`to`",
        ),
        (
            {"end": "2027-01-04T09:00", "from": "00:00", "to": "06:00"},
            "a freeze window has either `start`/`end` or `days`/`from`/`to`",
        ),
        ({}, "a freeze window has either `start`/`end` or `days`/`from`/`to`"),
        (
            {"days": ["sat"], "from": "00:00"},
            "a weekly freeze window needs `days`, `from` and `to`",
        ),
        ({"days": ["sat"], "from": "00:00", "to": "24:00"}, "String should match pattern"),
        ({"days": ["saturday"], "from": "00:00", "to": "06:00"}, "Input should be 'mon'"),
        ({"start": "2026-12-20 00:00", "end": "2027-01-04T09:00"}, "String should match pattern"),
    ],
)
def test_invalid_windows_do_not_load(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        FreezeWindow.model_validate({"name": "bad", **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {"start": "2026-02-30T00:00", "end": "2026-03-02T00:00"},
        {"start": "2026-12-20T00:00", "end": "2026-12-20T24:00"},
        {"start": "2026-12-20T00:00", "end": "2026-12-20T00:00:00"},  # the same instant
    ],
)
def test_impossible_local_dates_do_not_load(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        FreezeWindow.model_validate({"name": "bad", **fields})


ENVIRONMENTS = """\
apiVersion: flaggate/v1
kind: Environments
metadata:
  name: environments
spec:
  environments:
    - name: development
      riskLevel: low
    - name: staging
      riskLevel: medium
    - name: production
      riskLevel: critical
      freeze:
        - name: year-end
          start: "2026-12-20T00:00"
          end: "2027-01-04T09:00"
          timezone: Europe/Berlin
        - {name: weekends, days: [sat, sun], from: "00:00", to: "23:59", timezone: UTC}
"""


def test_validate_points_at_the_timezone_line_of_a_block_window(repo: GitRepo) -> None:
    text = ENVIRONMENTS.replace("timezone: Europe/Berlin", "timezone: Europe/Berlinn")
    envs = repo.write("policies/environments.yaml", text)
    line = line_containing(envs, "Europe/Berlinn")
    assert problem_lines(repo.flaggate("validate")) == [
        f"policies/environments.yaml:{line}: spec.environments.2.freeze.0.timezone: "
        "unknown timezone 'Europe/Berlinn'"
    ]


def test_validate_reports_an_unknown_timezone_with_its_line(repo: GitRepo) -> None:
    envs = repo.write("policies/environments.yaml", ENVIRONMENTS.replace("UTC}", "Mars/Olympus}"))
    line = line_containing(envs, "Mars/Olympus")
    assert problem_lines(repo.flaggate("validate")) == [
        f"policies/environments.yaml:{line}: spec.environments.2.freeze.1.timezone: "
        "unknown timezone 'Mars/Olympus'"
    ]


# --- end to end: `flaggate plan --at` in a real repository --------------------------------


@pytest.fixture(scope="module")
def frozen_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitRepo]:
    """The example with ENVIRONMENTS on main, a production change on `prod-on` and a
    development-only change on `dev-off` (plans with --head leave the work tree alone)."""
    repo = GitRepo(Path(tmp_path_factory.mktemp("freeze")) / "repo")
    repo.copy_example()
    repo.write("policies/environments.yaml", ENVIRONMENTS)
    repo.commit("example with freeze windows")
    repo.branch("prod-on")
    turn_on_checkout(repo)
    repo.commit("turn on checkout in production")
    repo.branch("dev-off", "main")
    path = repo.root / CHECKOUT
    text = path.read_text()
    dev_on = "development:\n      enabled: true"
    assert dev_on in text
    path.write_text(text.replace(dev_on, "development:\n      enabled: false"))
    repo.commit("turn off checkout in development")
    repo.checkout("main")
    yield repo


def plan(repo: GitRepo, head: str, now: str) -> tuple[int, dict[str, Any], str]:
    result = repo.flaggate(
        "plan", "--base", "main", "--head", head, "--format", "json", "--at", now, *BOTH_APPROVALS
    )
    return result.code, result.json(), result.stderr


def gates_of(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(g["name"], g["kind"], g["status"], g["message"]) for g in data["gates"]]


@pytest.mark.parametrize(
    ("now", "weekends"),
    [
        ("2026-12-21T10:00+01:00", next_from("2026-12-26 00:00 UTC")),
        ("2026-12-19T23:00Z", "production freeze 'weekends' until 2026-12-21 00:00 UTC"),
        ("2027-01-04T08:59:59+01:00", next_from("2027-01-09 00:00 UTC")),
    ],
)
def test_plan_inside_the_year_end_freeze_fails(
    frozen_repo: GitRepo, now: str, weekends: str
) -> None:
    code, data, stderr = plan(frozen_repo, "prod-on", now)
    assert code == 1, stderr
    assert data["decision"] == "failed"
    assert changes_of(data) == [("checkout-redesign", "production", "toggled")]
    assert [s["status"] for s in data["stages"]] == ["approved", "approved"]
    assert gates_of(data) == [
        ("production: freeze 'year-end'", "freeze", "failed", YEAR_END),
        (
            "production: freeze 'weekends'",
            "freeze",
            "failed" if "until" in weekends else "passed",
            weekends,
        ),
    ]


@pytest.mark.parametrize(
    ("now", "year_end"),
    [
        ("2027-01-04T09:00+01:00", "not frozen now"),
        ("2026-12-18T10:00Z", next_from("2026-12-20 00:00 Europe/Berlin")),
    ],
)
def test_plan_outside_the_freeze_is_approved(frozen_repo: GitRepo, now: str, year_end: str) -> None:
    code, data, stderr = plan(frozen_repo, "prod-on", now)
    assert code == 0, stderr
    assert data["decision"] == "approved"
    assert [(g["kind"], g["status"]) for g in data["gates"]] == [
        ("freeze", "passed"),
        ("freeze", "passed"),
    ]
    assert data["gates"][0]["message"] == year_end


def test_plan_during_a_weekend_freeze_names_monday(frozen_repo: GitRepo) -> None:
    code, data, _ = plan(frozen_repo, "prod-on", "2026-11-29T23:59:30Z")
    assert (code, data["decision"]) == (1, "failed")
    assert gates_of(data)[1] == (
        "production: freeze 'weekends'",
        "freeze",
        "failed",
        "production freeze 'weekends' until 2026-11-30 00:00 UTC",
    )


def test_development_change_ignores_the_production_freeze(frozen_repo: GitRepo) -> None:
    code, data, stderr = plan(frozen_repo, "dev-off", "2026-12-26T10:00Z")
    assert code == 0, stderr
    assert data["decision"] == "approved"
    assert changes_of(data) == [("checkout-redesign", "development", "toggled")]
    assert data["gates"] == []


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("2026-12-21T10:00", "needs a UTC offset (e.g. 2026-11-28T09:00Z)"),
        ("next monday", "is not an ISO-8601 date and time"),
    ],
)
def test_plan_rejects_an_at_without_offset(frozen_repo: GitRepo, value: str, error: str) -> None:
    result = frozen_repo.flaggate(
        "plan", "--base", "main", "--head", "prod-on", "--format", "json", "--at", value
    )
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr == f"flaggate: error: --at {value!r} {error}\n"
