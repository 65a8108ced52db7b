"""Hot-items settings: unknown keys and out-of-range values are refused, on assignment too, and each setting
says what it does."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from recommender.hot.config import BURST_TEST, HotConfig


def test_unknown_and_out_of_range_settings_are_refused():
    with pytest.raises(ValidationError):
        HotConfig(recent_minute=15)  # a typo must not fall back to the default
    with pytest.raises(ValidationError):
        HotConfig(recent_minutes=61)  # the minute ring holds one hour
    cfg = HotConfig()
    with pytest.raises(ValidationError):
        cfg.alpha = 1.5


def test_every_setting_is_described_and_the_burst_test_s_are_settings():
    assert all(f.description for f in HotConfig.model_fields.values())
    assert set(BURST_TEST) <= set(HotConfig.model_fields)


def test_the_tested_window_is_one_minute_to_the_minute_ring_s_hour():
    assert HotConfig(recent_minutes=1).recent_minutes == 1 and HotConfig(recent_minutes=60).recent_minutes == 60
    with pytest.raises(ValidationError):
        HotConfig(recent_minutes=0)
