"""Minutes since the epoch, whatever the timestamps' zone or resolution; naive timestamps are UTC."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.clock import days_between, to_minutes


def test_timestamps_become_whole_minutes_since_the_epoch_naive_ones_as_utc():
    naive = np.array(["1970-01-01T00:01:59", "2024-05-01T12:00:00.123456"], "datetime64[us]")
    assert to_minutes(naive).tolist() == [1, 28_576_080]
    aware = pd.Series(pd.to_datetime(["2024-05-01T20:00:30+08:00"]))
    assert to_minutes(aware).tolist() == [28_576_080]


def test_days_between_agrees_with_pandas_timedelta_arithmetic_for_series_arrays_and_one_timestamp():
    rng = np.random.default_rng(0)
    micros = rng.integers(1_600_000_000_000_000, 1_800_000_000_000_000, 1000)
    times = pd.Series(micros.astype("datetime64[us]"))
    now = pd.Timestamp("2026-12-03 20:43:48.123456")
    expected = (now - times).dt.total_seconds().to_numpy() / 86400
    np.testing.assert_allclose(days_between(times, now), expected, rtol=1e-14)
    np.testing.assert_allclose(days_between(times.to_numpy(), now), expected, rtol=1e-14)
    np.testing.assert_allclose(-days_between(now, times), expected, rtol=1e-14)
    assert days_between(pd.Timestamp("2026-12-01"), pd.Timestamp("2026-12-03 12:00")) == 2.5


def test_days_between_a_missing_time_and_any_other_is_nan_as_in_pandas():
    times = pd.Series(pd.to_datetime(["2026-12-01", None, "2026-12-02"]))
    assert np.isnan(days_between(times, pd.Timestamp("2026-12-03"))).tolist() == [False, True, False]
    assert np.isnan(days_between(pd.NaT, pd.Timestamp("2026-12-03")))
