"""``supportkpi.toml``: the report time zone, windows, thresholds and business hours.

Every setting has a default, so the file is optional. An example::

    timezone = "Europe/Berlin"        # periods (day, week, month…) are cut in this zone
    follow_up_days = 7                # a contact within this many days is a follow-up

    [service_level]                   # first-response threshold per channel, seconds
    chat = 60
    email = 3600

    [business_hours.default]          # used by every vendor and team without its own
    timezone = "Europe/Berlin"
    mon = "09:00-17:00"
    tue = "09:00-17:00"
    wed = "09:00-17:00"
    thu = "09:00-17:00"
    fri = "09:00-13:00, 14:00-17:00"
    holidays = ["2026-12-25", "2026-12-26"]

    [business_hours.vendors.northwind]
    timezone = "Asia/Manila"
    mon = "22:00-06:00"               # a range may cross midnight

    [[targets]]                       # adds to or overrides the default targets
    kpi = "csat"
    op = ">="
    value = 0.85

    [[contracts.northwind]]           # a vendor's SLA: targets scoped to that vendor
    kpi = "first_response_time"
    op = "<="
    value = 45
    channel = "chat"

    [workforce]                       # staffing: targets, shrinkage, chat concurrency, cost
    service_level = 0.8
    max_occupancy = 0.85
    shrinkage = 0.3
    concurrency = 2                   # chats an agent serves at once
    concurrency_growth = 0.25         # each extra chat lengthens handle time by 25 %
    hourly_rate = { in-house = 32.0, northwind = 14.0, default = 25.0 }

    [workforce.roster]                # shifts `supportkpi roster` may use
    starts = "07:00,08:00,09:00,12:00"
    lengths = [4, 8]
    max_days = 5                      # working days in a row at most
    min_days_off = 2                  # days off a week at least

    [[workforce.roster.breaks]]       # a shift of 6 h or more: 30 min, 2–5 h after its start
    min_hours = 6
    minutes = 30
    earliest = 2
    latest = 5

    [[alerts]]                        # checked by `supportkpi alerts check`
    name = "northwind chat first response"
    kpi = "first_response_time"
    vendor = "northwind"
    channel = "chat"
    window = "60m"                    # the last 60 minutes ("2h", or "today" so far)
    # op = "<="; value = 45           # else the target (the vendor's contract first)
    min_sample = 20                   # judge only over at least 20 conversations
    cooldown = "2h"                   # no new alert within 2 h of the last one
    notify = ["ops", "managers"]

    [[schedules]]                     # run by `serve --schedules` or `schedule run`
    name = "monthly reviews"
    report = "review"                 # each vendor's review of the month before; or "summary"
    day = 2                           # on the 2nd of the month …
    at = "08:00"                      # … at 08:00 in the zone above
    notify = ["managers"]
    folder = "reviews/"

    [notify.webhooks.ops]             # JSON with a Slack-compatible "text"
    url = "https://hooks.slack.com/services/..."

    [notify.email.managers]           # SMTP; password from an environment variable
    host = "smtp.example.com"
    port = 587
    starttls = true
    username = "alerts@example.com"
    password_env = "SUPPORTKPI_SMTP_PASSWORD"
    sender = "alerts@example.com"
    to = ["head-of-support@example.com"]
"""

from __future__ import annotations

import os
import re
from datetime import date, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from supportkpi.tomlfile import read_model

CONFIG_FILE = "supportkpi.toml"
ENV_CONFIG = "SUPPORTKPI_CONFIG"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key."""


def check_zone(value: str) -> str:
    """``value`` if it names an IANA time zone; else a ValueError saying what to write."""
    try:
        if len(value) > 64 or "\x00" in value:
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = value if len(value) <= 64 else value[:60] + "…"
        raise ValueError(
            f"unknown time zone {shown!r} (use an IANA name such as 'Europe/Berlin')"
        ) from None
    return value


def parse_ranges(text: str) -> tuple[tuple[time, timedelta], ...]:
    """'09:00-12:00, 13:00-17:00' → ((start, length), …); '22:00-06:00' crosses midnight."""
    if not text.strip():
        return ()
    ranges = []
    for part in text.split(","):
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a range like '09:00-17:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{part.strip()!r} is not a time of day")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        length = (end - start) % (24 * 60) or 24 * 60
        ranges.append((time(h1, m1), timedelta(minutes=length)))
    return tuple(ranges)


class BusinessHours(BaseModel):
    """Weekly opening hours in a time zone, with holidays (whole local days closed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    mon: str = ""
    tue: str = ""
    wed: str = ""
    thu: str = ""
    fri: str = ""
    sat: str = ""
    sun: str = ""
    holidays: tuple[date, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator(*WEEKDAYS)
    @classmethod
    def _ranges(cls, value: str) -> str:
        parse_ranges(value)
        return value

    def day(self, weekday: int) -> tuple[tuple[time, timedelta], ...]:
        """The opening ranges of a weekday (0 = Monday)."""
        return parse_ranges(getattr(self, WEEKDAYS[weekday]))


class Calendars(BaseModel):
    """Business hours: a default, and overrides per vendor and per team (team wins)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: BusinessHours | None = None
    vendors: dict[str, BusinessHours] = {}
    teams: dict[str, BusinessHours] = {}

    @property
    def configured(self) -> bool:
        """Whether any business hours are set at all."""
        return bool(self.default or self.vendors or self.teams)


class TargetSpec(BaseModel):
    """A target as written in the config: KPI, comparison, value, optional scope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kpi: str
    op: Literal["<=", ">=", "between"]
    value: float | tuple[float, float]
    channel: str | None = None
    team: str | None = None
    vendor: str | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> TargetSpec:
        if self.op == "between":
            if not isinstance(self.value, tuple) or self.value[0] > self.value[1]:
                raise ValueError("a 'between' target takes value = [low, high]")
        elif isinstance(self.value, tuple):
            raise ValueError(f"a {self.op!r} target takes one number")
        return self


class RosterBreak(BaseModel):
    """A shift of at least ``min_hours`` takes a break of ``minutes`` starting between
    ``earliest`` and ``latest`` hours after its start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_hours: float = Field(gt=0, le=24)
    minutes: int = Field(gt=0, le=240)
    earliest: float = Field(ge=0)
    latest: float = Field(ge=0)


class RosterSettings(BaseModel):
    """What ``supportkpi roster`` may use unless its options say otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    starts: str = "every 60"
    lengths: tuple[float, ...] = (4, 6, 8)
    min_agents: int = Field(default=0, ge=0)
    max_agents: int | None = Field(default=None, ge=0)
    max_days: int | None = Field(default=None, ge=1, le=7)  # working days in a row
    min_days_off: int = Field(default=0, ge=0, le=6)  # per week
    breaks: tuple[RosterBreak, ...] = ()


class Workforce(BaseModel):
    """Staffing settings: targets, shrinkage, chat concurrency, hourly cost per vendor and
    the roster's rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_level: float = Field(default=0.8, ge=0, lt=1)
    max_occupancy: float = Field(default=0.85, gt=0, le=1)
    max_abandon: float | None = Field(default=None, gt=0, lt=1)
    shrinkage: float = Field(default=0.3, ge=0, lt=1)
    concurrency: int = Field(default=2, ge=1)
    concurrency_growth: float = Field(default=0.25, ge=0)
    hourly_rate: dict[str, float] = {}
    roster: RosterSettings = RosterSettings()


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")
_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """'90s', '60m', '2h', '1d' → a timedelta; a ValueError saying what to write."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like '60m', '2h' or '90s'")
    return timedelta(seconds=float(match.group(1)) * _SECONDS[match.group(2)])


class AlertRule(BaseModel):
    """One alert: a KPI over a recent window, in a scope, against a threshold (or the target
    that applies to the scope), judged only over enough rows, at most once per cooldown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    kpi: str
    vendor: str | None = None
    channel: str | None = None
    team: str | None = None
    window: str = "60m"
    op: Literal["<=", ">="] | None = None
    value: float | None = None
    min_sample: int = Field(default=1, ge=1)
    cooldown: str = "1h"
    notify: tuple[str, ...] = ()

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if value.strip() != "today":
            parse_duration(value)
        return value.strip()

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, value: str) -> str:
        if value.strip() not in ("0", "0m"):
            parse_duration(value)
        return value.strip()

    @model_validator(mode="after")
    def _threshold(self) -> AlertRule:
        if (self.op is None) != (self.value is None):
            raise ValueError("give both op and value, or neither (the target then applies)")
        return self

    @property
    def cooldown_delta(self) -> timedelta:
        """The cooldown as a timedelta (0 for none)."""
        return timedelta(0) if self.cooldown in ("0", "0m") else parse_duration(self.cooldown)

    @property
    def scope(self) -> dict[str, str]:
        """The dimensions the alert watches."""
        return {d: v for d in ("vendor", "channel", "team") if (v := getattr(self, d))}


class Webhook(BaseModel):
    """An HTTP endpoint that receives each alert as JSON (Slack-compatible ``text``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")
    timeout: float = Field(default=10, gt=0)


class Email(BaseModel):
    """An SMTP server and the addresses an alert is mailed to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str
    to: tuple[str, ...] = Field(min_length=1)
    ssl: bool = False
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    timeout: float = Field(default=10, gt=0)
    ca_file: str | None = None  # PEM of the CA to trust (an internal CA); else the system's

    @model_validator(mode="after")
    def _one_tls(self) -> Email:
        if self.ssl and self.starttls:
            raise ValueError("ssl (TLS from the start) and starttls exclude each other")
        return self


class Schedule(BaseModel):
    """A report delivered on a calendar: the monthly review of each vendor (of the month
    before), or a daily summary (the day before: headline KPIs per vendor and the alerts that
    fired), sent to channels of ``[notify]`` and/or written to a folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    report: Literal["review", "summary"]
    every: Literal["month", "week", "day"] | None = None
    day: int | str | None = None  # day of the month (1–28), or a weekday ("mon") for weeks
    at: time = time(8, 0)  # local time in the config's zone
    vendors: tuple[str, ...] = ()  # reviews: these vendors; empty: every vendor with data
    pdf: bool = False  # reviews: attach a PDF too (headless Chromium)
    notify: tuple[str, ...] = ()
    folder: str | None = None
    catch_up: str = "1d"  # a due time missed by more than this (server down) is skipped

    @model_validator(mode="after")
    def _when(self) -> Schedule:
        every = self.every or ("month" if self.report == "review" else "day")
        object.__setattr__(self, "every", every)
        if every == "month":
            day = 1 if self.day is None else self.day
            if not isinstance(day, int) or not 1 <= day <= 28:
                raise ValueError("a monthly schedule takes day = 1 … 28 (the day of the month)")
        elif every == "week":
            day = "mon" if self.day is None else str(self.day).lower()[:3]
            if day not in WEEKDAYS:
                raise ValueError(f"a weekly schedule takes day = one of {', '.join(WEEKDAYS)}")
        elif self.day is not None:
            raise ValueError("a daily schedule takes no day")
        else:
            day = None
        object.__setattr__(self, "day", day)
        if not self.notify and self.folder is None:
            raise ValueError('say where it goes: notify = [...] and/or folder = "..."')
        parse_duration(self.catch_up)
        return self


class Notify(BaseModel):
    """Where alerts go, by name, and how often a failed delivery is tried again at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhooks: dict[str, Webhook] = {}
    email: dict[str, Email] = {}
    retries: int = Field(default=3, ge=0, le=10)
    retry_delay: float = Field(default=2.0, ge=0)


class Config(BaseModel):
    """All settings of supportkpi.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    follow_up_days: float = Field(default=7, gt=0)
    service_level: dict[str, float] = {
        "chat": 60,
        "email": 3600,
        "voice": 20,
        "social": 3600,
        "sms": 3600,
        "messaging": 300,
    }
    service_level_default: float = Field(default=3600, gt=0)
    business_hours: Calendars = Calendars()
    attribution_days: float = Field(default=7, gt=0)
    customer_lifespan_years: float | None = Field(default=None, gt=0)
    targets: tuple[TargetSpec, ...] = ()
    contracts: dict[str, tuple[TargetSpec, ...]] = {}
    workforce: Workforce = Workforce()
    alerts: tuple[AlertRule, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    notify: Notify = Notify()

    @model_validator(mode="after")
    def _alerts_known(self) -> Config:
        channels = set(self.notify.webhooks) | set(self.notify.email)
        both = set(self.notify.webhooks) & set(self.notify.email)
        if both:
            raise ValueError(f"{', '.join(sorted(both))}: both a webhook and an e-mail")
        for kind, rules in (("alert", self.alerts), ("schedule", self.schedules)):
            names = [r.name for r in rules]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{kind} names must differ: {', '.join(twice)} appears twice")
            for rule in rules:
                unknown = [n for n in rule.notify if n not in channels]
                if unknown:
                    raise ValueError(
                        f"{kind} {rule.name!r} notifies {', '.join(unknown)}, which is not "
                        "under [notify.webhooks] or [notify.email]"
                    )
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("service_level")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for channel, seconds in value.items():
            if seconds <= 0:
                raise ValueError(f"the threshold for {channel} must be above 0 seconds")
        return {**cls.model_fields["service_level"].default, **value}

    def threshold(self, channel: str) -> float:
        """First-response threshold (seconds) for the service level of a channel."""
        return self.service_level.get(channel, self.service_level_default)


def load_config(path: str | Path | None = None) -> Config:
    """Read the config: ``path``, else $SUPPORTKPI_CONFIG, else ./supportkpi.toml if present."""
    chosen = path or os.environ.get(ENV_CONFIG)
    if chosen is None:
        if not Path(CONFIG_FILE).exists():
            return Config()
        chosen = CONFIG_FILE
    return read_model(Path(chosen), Config, "config file", ConfigError)
