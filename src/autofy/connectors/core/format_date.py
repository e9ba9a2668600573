"""Date formatting: read many date forms, move between time zones, add durations, write them out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from autofy.connectors.sdk import Action, ConnectorContext, PermanentError, StrictModel

# Unambiguous forms only: 03/04/2026 means March in one country and April in another, so such
# inputs need an explicit `input_format`.
COMMON_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%d %B %Y %H:%M",
)
# Epoch values beyond this are milliseconds (seconds reach it only in the year 5138).
MILLISECONDS_THRESHOLD = 100_000_000_000


def timezone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Paris") from None


class Duration(StrictModel):
    weeks: float = Field(default=0, description="Weeks (negative to subtract).")
    days: float = Field(default=0, description="Days (negative to subtract).")
    hours: float = Field(default=0, description="Hours (negative to subtract).")
    minutes: float = Field(default=0, description="Minutes (negative to subtract).")
    seconds: float = Field(default=0, description="Seconds (negative to subtract).")


class FormatDateInput(StrictModel):
    date: str | int | float = Field(
        description="The date: ISO 8601 (2026-03-01T09:30:00Z), an email date (Sun, 01 Mar 2026 "
        '09:30:00 +0000), forms like 1 March 2026, seconds (or milliseconds) since 1970, or "now".'
    )
    input_format: str | None = Field(
        default=None, description="The exact strftime format of `date`, e.g. %d/%m/%Y, when ambiguous."
    )
    timezone: str = Field(default="UTC", description="IANA time zone of a date written without an offset.")
    to_timezone: str | None = Field(
        default=None, description="IANA time zone to convert to, e.g. America/New_York."
    )
    add: Duration | None = Field(default=None, description="A duration to add (negative subtracts).")
    output_format: Literal["iso", "date", "time", "epoch", "rfc2822"] | str = Field(
        default="iso",
        description="iso, date (2026-03-01), time (09:30), epoch (seconds), rfc2822 (email style), or "
        "any strftime pattern such as %A %d %B %Y.",
    )

    @field_validator("timezone", "to_timezone")
    @classmethod
    def _known_timezone(cls, name: str | None) -> str | None:
        if name is not None:
            timezone_named(name)
        return name


class FormatDateOutput(BaseModel):
    text: str = Field(description="The date written as `output_format` asks.")
    iso: str = Field(description="The date in ISO 8601 with its offset.")
    epoch_seconds: int = Field(description="Seconds since 1970-01-01 UTC.")
    timezone: str = Field(description="The time zone of the result.")


def parse_date(
    value: str | int | float, *, input_format: str | None, zone: ZoneInfo, now: datetime
) -> datetime:
    """An aware datetime from any supported form; naive values are read in `zone`."""
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        seconds = float(value)
        if abs(seconds) >= MILLISECONDS_THRESHOLD:
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    text = value.strip()
    if text.lower() == "now":
        return now
    moment = _parse_text(text, input_format)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_text(text: str, input_format: str | None) -> datetime:
    if input_format:
        try:
            return datetime.strptime(text, input_format)  # naive: read in `timezone` later
        except ValueError:
            raise PermanentError(f"{text!r} does not match the format {input_format!r}") from None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    for candidate in COMMON_FORMATS:
        try:
            return datetime.strptime(text, candidate)  # naive: read in `timezone` later
        except ValueError:
            continue
    raise PermanentError(
        f"could not read {text!r} as a date: use ISO 8601 (2026-03-01T09:30:00Z) or set input_format"
    )


def write_date(moment: datetime, output_format: str) -> str:
    if output_format == "iso":
        return moment.isoformat()
    if output_format == "date":
        return moment.date().isoformat()
    if output_format == "time":
        return moment.strftime("%H:%M")
    if output_format == "epoch":
        return str(int(moment.timestamp()))
    if output_format == "rfc2822":
        return moment.strftime("%a, %d %b %Y %H:%M:%S %z")
    return moment.strftime(output_format)


def format_date(params: FormatDateInput, now: datetime) -> FormatDateOutput:
    source_zone = timezone_named(params.timezone)
    moment = parse_date(params.date, input_format=params.input_format, zone=source_zone, now=now)
    target_name = params.to_timezone or (params.timezone if moment.tzinfo == source_zone else None)
    if params.add is not None:
        moment += timedelta(**params.add.model_dump())
    if target_name is not None:
        moment = moment.astimezone(timezone_named(target_name))
    return FormatDateOutput(
        text=write_date(moment, params.output_format),
        iso=moment.isoformat(),
        epoch_seconds=int(moment.timestamp()),
        timezone=target_name or (moment.tzname() or "UTC"),
    )


class FormatDate(Action[FormatDateInput, FormatDateOutput]):
    name = "format_date"
    display_name = "Format date"
    description = (
        "Read a date (ISO 8601, email dates, common written forms or a Unix timestamp), optionally "
        "convert it to another time zone and add or subtract a duration, and write it in the format "
        "you choose."
    )
    input_model = FormatDateInput
    output_model = FormatDateOutput

    async def run(self, ctx: ConnectorContext, params: FormatDateInput) -> FormatDateOutput:
        return format_date(params, datetime.now(UTC))
