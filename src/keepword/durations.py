"""Calendar durations for retention periods and request deadlines.

Accepts ISO 8601 (``P1Y6M``, ``P30D``, ``P2W``) and plain English
(``30 days``, ``1 month``, ``2 years``). Months and years are calendar
arithmetic (31 Jan + 1 month = 28/29 Feb), as GDPR's "one month" is.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

T = TypeVar("T", date, datetime)

_ISO = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
_WORDS = re.compile(r"^(\d+)\s*(day|days|week|weeks|month|months|year|years)$")


@dataclass(frozen=True, order=True)
class Duration:
    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        text = text.strip()
        m = _ISO.match(text.upper())
        if m and any(m.groups()):
            y, mo, w, d = (int(g) if g else 0 for g in m.groups())
            return cls(y, mo, d + 7 * w)
        m = _WORDS.match(text.lower())
        if m:
            n, unit = int(m.group(1)), m.group(2).rstrip("s")
            return {"day": cls(days=n), "week": cls(days=7 * n),
                    "month": cls(months=n), "year": cls(years=n)}[unit]
        raise ValueError("expected a duration such as 'P30D', '30 days', '1 month' or '10 years'")

    def iso(self) -> str:
        if not (self.years or self.months or self.days):
            return "P0D"
        out = "P"
        out += f"{self.years}Y" if self.years else ""
        out += f"{self.months}M" if self.months else ""
        out += f"{self.days}D" if self.days else ""
        return out

    def human(self) -> str:
        parts = []
        for n, unit in ((self.years, "year"), (self.months, "month"), (self.days, "day")):
            if n:
                parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
        return ", ".join(parts) or "0 days"

    def add_to(self, moment: T) -> T:
        return _add(moment, self, 1)

    def subtract_from(self, moment: T) -> T:
        return _add(moment, self, -1)

    def __str__(self) -> str:
        return self.iso()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Duration:
            if isinstance(value, Duration):
                return value
            if not isinstance(value, str):
                raise PydanticCustomError("duration", "expected a duration string such as 'P30D'")
            try:
                return cls.parse(value)
            except ValueError as exc:
                raise PydanticCustomError("duration", str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(
                lambda d: d.iso(), when_used="always"))


def _add(moment: T, d: Duration, sign: int) -> T:
    months = moment.month - 1 + sign * (d.years * 12 + d.months)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day) + timedelta(days=sign * d.days)
