"""`xuanpin inspect` prints the picks the service serves: for each anchor it shows, the same goods in the same
order, with the same expected commission and first reason as GET /v1/anchors/<id>/picks on the same artifact.
(Before the Ranker was shared, inspect ranked by the vectors while the service did not.)"""

from __future__ import annotations

import math
import re

from click.testing import CliRunner

from recommender.cli import main

LINE = re.compile(r"^  (?:预期佣金 ¥(?P<money>[\d,.]+)(?P<wan>万)?/30天|匹配度 (?P<match>\d+)%)\s+\S+\s+"
                  r"¥[\d,]+\.\d\d\s+佣金\d+%\s+(?P<title>.+?)  \| (?P<reason>.+)$")


def inspected(output: str) -> dict[str, list[dict]]:
    """The picks inspect printed, by anchor id, in its order."""
    picks: dict[str, list[dict]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("anchor "):
            current = line.split()[1]
            picks[current] = []
        elif current and line.startswith("  "):
            m = LINE.match(line)
            assert m, f"a pick line inspect printed is not in its format: {line!r}"
            picks[current].append(m.groupdict())
    return picks


def test_inspect_prints_the_services_picks(small_artifact, client):
    r = CliRunner().invoke(main, ["inspect", str(small_artifact), "--anchors", "4", "-k", "8"])
    assert r.exit_code == 0, r.output
    printed = inspected(r.output)
    assert len(printed) == 4 and all(len(p) == 8 for p in printed.values()), r.output
    for anchor_id, picks in printed.items():
        served = client.get(f"/v1/anchors/{anchor_id}/picks", query_string={"k": 8}).get_json()["items"]
        assert [p["title"] for p in picks] == [s["product"]["title"] for s in served], anchor_id
        assert [p["reason"] for p in picks] == [s["reasons"][0]["text"] for s in served], anchor_id
        for p, s in zip(picks, served, strict=True):
            earned = s["breakdown"].get("expected_commission_30d")
            if earned is None:
                assert p["match"] is not None
            else:
                shown = float(p["money"].replace(",", ""))  # as the page writes it: ¥4.59, ¥24, ¥7,677, ¥1.2万
                expected = round(earned / 1e4, 1) if p["wan"] else round(earned, 2) if earned < 10 else \
                    math.floor(earned + 0.5)
                assert shown == expected and (p["wan"] is not None) == (earned >= 1e4), (anchor_id, p, earned)
