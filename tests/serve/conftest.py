from __future__ import annotations

import pytest

from serve.app import create_app


@pytest.fixture(scope="session")
def app(small_artifact):
    return create_app({"model": str(small_artifact)})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def serving(app):
    return app.extensions["xuanpin"]["serving"]


@pytest.fixture(scope="session")
def ids(serving):
    """A few real ids: a big seller, a cold-start anchor (fans, no sales), goods with and without sales."""
    m = serving.model
    orders = m.anchor_stats["orders_all"].to_numpy()
    cold = [int(a) for a in range(len(orders)) if orders[a] == 0 and m.audience.fans[a] > 0]
    sold = m.product_stats["sales_30d"].to_numpy()
    return {
        "anchor": m.anchor_ids.ids[int(orders.argmax())].item(),
        "cold_anchor": m.anchor_ids.ids[cold[0]].item(),
        "anchors": [m.anchor_ids.ids[a].item() for a in range(0, len(orders), 5)],
        "product": m.product_ids.ids[int(sold.argmax())].item(),
    }
