"""System events: the bus publishes what happens to its own data (observer pattern).

Services watch the bus by subscribing to ``bus.*`` topics like any other:

=====================  =======================================================
topic                  event types
=====================  =======================================================
``bus.services``       ``bus.service.registered``, ``bus.service.deregistered``
``bus.topics``         ``bus.topic.created``, ``bus.topic.deleted``
``bus.subscriptions``  ``bus.subscription.activated``, ``bus.subscription.removed``
``bus.deliveries``     ``bus.delivery.failed``, ``bus.event.dead-lettered``
``bus.schedules``      ``bus.schedule.fired``
=====================  =======================================================

The topics are created on first use, owned by the bus itself (an owner id no
service can have) with an empty publisher list, so they are read-only:
publishing there is 403 ``not-a-publisher``, creating a ``bus.*`` topic is 403
``reserved-topic``.  An emission never fails the operation that caused it
(it is logged), and failures delivering ``bus.*`` events emit nothing, so a
broken watcher cannot feed on itself.
"""
from __future__ import annotations

from chalicelib.domain.timeutil import iso, iso_now
from chalicelib.errors import NotFound
from chalicelib.observability import logger
from chalicelib.services.auth import Principal
from chalicelib.services.publishing import Publisher
from chalicelib.services.topics import SYSTEM_PREFIX as PREFIX, TOPICS, Topics
from chalicelib.storage.base import AlreadyExists

BUS = Principal("service", "bus", "tlks-bus")
TOPIC_OF = {"service": "bus.services", "topic": "bus.topics",
            "subscription": "bus.subscriptions", "delivery": "bus.deliveries",
            "event": "bus.deliveries", "schedule": "bus.schedules"}


def is_system_topic(name: str | None) -> bool:
    return bool(name) and name.startswith(PREFIX)


class SystemEvents:
    def __init__(self, publisher: Publisher, topics: Topics) -> None:
        self.publisher = publisher
        self.topics = topics

    def emit(self, type_: str, data: dict) -> None:
        """Publish ``bus.<noun>.<verb>`` on its system topic; never raises."""
        topic = TOPIC_OF[type_.split(".")[1]]
        try:
            try:
                self.publisher.publish_as(BUS, topic, {"type": type_, "data": data}, {})
            except NotFound:
                self._create(topic)
                self.publisher.publish_as(BUS, topic, {"type": type_, "data": data}, {})
        except Exception:  # noqa: BLE001 - the operation that caused it has happened
            logger.exception("could not publish a system event", extra={"type": type_})

    def _create(self, name: str) -> None:
        try:
            self.topics.docs.put(TOPICS, name, {
                "name": name, "discipline": "fifo", "owner": BUS.service_name,
                "owner_id": BUS.service_id, "publishers": [], "subscribers": None,
                "description": "events about the bus itself (read-only)",
                "created_at": iso_now()}, create_only=True)
        except AlreadyExists:
            pass

    # -- the observers the other services call

    def service(self, verb: str, service: dict) -> None:
        self.emit(f"bus.service.{verb}", {"id": service["id"], "name": service["name"]})

    def topic(self, verb: str, topic: dict) -> None:
        if not is_system_topic(topic["name"]):
            self.emit(f"bus.topic.{verb}", {"name": topic["name"], "owner": topic["owner"],
                                            "discipline": topic["discipline"]})

    def subscription(self, verb: str, subscription: dict) -> None:
        self.emit(f"bus.subscription.{verb}", {
            "id": subscription["id"], "owner": subscription["owner"],
            "topics": subscription["topics"], "mode": subscription.get("mode", "pull")})

    def delivery_failed(self, subscription: dict, topic: str | None, attempt: dict) -> None:
        if not is_system_topic(topic):
            self.emit("bus.delivery.failed", {"subscription": subscription["id"],
                                              "owner": subscription["owner"], **attempt})

    def dead_lettered(self, subscription: dict, topic: str | None, event_id: str,
                      reason: str) -> None:
        if not is_system_topic(topic):
            self.emit("bus.event.dead-lettered", {
                "subscription": subscription["id"], "owner": subscription["owner"],
                "event_id": event_id, "reason": reason})

    def schedule_fired(self, schedule: dict, occurrence: float, result: dict) -> None:
        self.emit("bus.schedule.fired", {"schedule": schedule["name"],
                                         "owner": schedule["owner"],
                                         "scheduled_time": iso(occurrence), **result})
