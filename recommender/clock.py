"""Time as the order counts see it: whole minutes since the epoch (UTC), the unit of the artifact's recent
orders and of the live order stream alike."""

from __future__ import annotations

import numpy as np
import pandas as pd


def to_minutes(timestamps) -> np.ndarray:
    """Timestamps (naive = UTC) to whole minutes since the epoch."""
    ts = pd.to_datetime(pd.Series(timestamps), utc=True)  # any resolution (pandas 3 keeps microseconds)
    return ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(minutes=1)).to_numpy(np.int64)
