"""The demo's quarter: start times and fates, whatever the moment it is seeded (no database)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from byte_core.demo_executions import DAYS, FATES, plan_fates, start_times

MONDAY_EARLY = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("hours_later", [0, 5, 13, 30, 60, 100, 125, 150])
def test_every_fate_fits_its_age_and_occurs_whenever_it_is_seeded(hours_later):
    now = MONDAY_EARLY + timedelta(hours=hours_later)
    rng = random.Random(7)
    moments = start_times(rng, now)
    assert moments == sorted(moments) and moments[-1] < now and moments[0] >= now - timedelta(days=DAYS)
    ages = [(now - m).total_seconds() / 86400 for m in moments]
    plan = plan_fates(rng, ages)
    windows = {(w, f): (young, old) for w, f, _, young, old in FATES}
    for age, fate in zip(ages, plan):
        young, old = windows[fate]
        assert young <= age <= old, (fate, age)
    assert set(plan) == set(windows)
