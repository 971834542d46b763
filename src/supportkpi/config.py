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


class Workforce(BaseModel):
    """Staffing settings: targets, shrinkage, chat concurrency and hourly cost per vendor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_level: float = Field(default=0.8, ge=0, lt=1)
    max_occupancy: float = Field(default=0.85, gt=0, le=1)
    max_abandon: float | None = Field(default=None, gt=0, lt=1)
    shrinkage: float = Field(default=0.3, ge=0, lt=1)
    concurrency: int = Field(default=2, ge=1)
    concurrency_growth: float = Field(default=0.25, ge=0)
    hourly_rate: dict[str, float] = {}


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
