"""Schedules in settings (``LLMREC["LEARNING_LOOP"]["SCHEDULE"]``): seconds or a crontab string,
parsed here so that the system checks and the learning loop read them the same way."""

from __future__ import annotations

import math
from typing import Any

from celery.schedules import crontab


def parse_schedule(value: Any) -> crontab | float:
    """A schedule setting: seconds (a positive number) or a five-field crontab string."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a schedule: give seconds or a crontab string.")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{value!r} seconds: an interval must be a positive, finite number.")
        return float(value)
    if isinstance(value, str):
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(f"{value!r}: a crontab has five fields (minute hour day-of-month month day-of-week).")
        minute, hour, day_of_month, month_of_year, day_of_week = fields
        # crontab() parses lazily; asking for the sets of each field raises on a bad one now.
        schedule = crontab(minute, hour, day_of_week, day_of_month, month_of_year)
        for part in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year"):
            getattr(schedule, part)
        return schedule
    raise ValueError(f"{value!r} is not a schedule: give seconds or a crontab string.")
