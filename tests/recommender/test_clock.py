"""Minutes since the epoch, whatever the timestamps' zone or resolution; naive timestamps are UTC."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.clock import to_minutes


def test_timestamps_become_whole_minutes_since_the_epoch_naive_ones_as_utc():
    naive = np.array(["1970-01-01T00:01:59", "2024-05-01T12:00:00.123456"], "datetime64[us]")
    assert to_minutes(naive).tolist() == [1, 28_576_080]
    aware = pd.Series(pd.to_datetime(["2024-05-01T20:00:30+08:00"]))
    assert to_minutes(aware).tolist() == [28_576_080]
