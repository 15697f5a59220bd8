"""The HTTP walkthrough once per storage driver: the local runner on memory, file, redis.

``test_walkthrough.py`` runs the walkthrough against the runner on DynamoDB (moto);
this module starts ``python -m chalicelib.runtime.local --storage <driver>`` for each
other driver (one runner per driver, on a free port, with its own SQLite file or a
throwaway ``redis-server``) and runs the very same tests against it, so every
driver is held to the same claims over real HTTP.
"""
from __future__ import annotations

from typing import Iterator

import pytest
import requests

from tests.e2e.conftest import LiveBus, local_bus
from tests.e2e.test_walkthrough import (  # noqa: F401 - collected here against each driver
    test_one_queue_of_each_discipline, test_register_topic_subscribe_publish_pull_ack,
)
from tests.redis_server import redis_server  # noqa: F401 - a session fixture

DRIVERS = ["memory", "file", "redis"]


@pytest.fixture(scope="module", params=DRIVERS)
def live_bus(request, tmp_path_factory) -> Iterator[LiveBus]:
    """The bus served by the local runner on ``request.param`` storage."""
    driver = request.param
    folder = tmp_path_factory.mktemp(f"live_bus_{driver}")
    extra = {}
    if driver == "file":
        extra["TLKS_STORAGE_URL"] = str(folder / "bus.sqlite3")
    elif driver == "redis":
        extra["TLKS_STORAGE_URL"] = request.getfixturevalue("redis_server").url
    with local_bus(folder / "server.log", driver, **extra) as (bus, _):
        yield bus

def test_health_names_the_driver_and_finds_it_answering(live_bus, request):
    response = requests.get(live_bus.url + "/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["storage"]) == ("ok", request.node.callspec.params["live_bus"])
