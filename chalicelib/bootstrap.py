"""Wires the bus together once per process (once per Lambda cold start).

``get_bus()`` is the cached getter app.py's routes use; tests build their own
``Bus`` with ``build_bus(settings, storage=...)`` to inject drivers and clocks.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from chalicelib.config import Settings
from chalicelib.delivery.callbacks import CallbackPolicy, parse_allow_list
from chalicelib.errors import BusError
from chalicelib.observability import metrics
from chalicelib.services.auth import Authenticator
from chalicelib.delivery.webhook import WebhookClient
from chalicelib.middleware import build_pipeline
from chalicelib.middleware.log_rules import LogRules, RuleLogging
from chalicelib.services.dispatcher import Dispatcher
from chalicelib.services.events import Events
from chalicelib.services.outcomes import Outcomes
from chalicelib.services.publishing import Publisher
from chalicelib.services.push import PushSubscriptions
from chalicelib.services.queues import Queues
from chalicelib.services.registry import ServiceRegistry
from chalicelib.services.replies import Replies
from chalicelib.services.routing import Routing
from chalicelib.services.routing_table import RoutingTables
from chalicelib.services.schedules import Schedules
from chalicelib.services.subscriptions import Subscriptions
from chalicelib.services.system_events import SystemEvents
from chalicelib.services.topics import Topics
from chalicelib.services.tracking import Tracking
from chalicelib.storage import Storage, open_storage


@dataclass
class Bus:
    settings: Settings
    storage: Storage
    auth: Authenticator
    services: ServiceRegistry
    topics: Topics
    subscriptions: Subscriptions
    publisher: Publisher
    queues: Queues
    push: PushSubscriptions
    dispatcher: Dispatcher
    routing: Routing
    events: Events
    outcomes: Outcomes
    schedules: Schedules
    log_rules: LogRules

    def health(self) -> tuple[bool, dict]:
        """Whether the storage backend answers, with a short report."""
        started = time.perf_counter()
        try:
            self.storage.docs.ping()
            self.storage.queues.ping()
        except BusError as exc:
            return False, {"status": "unavailable", "storage": self.settings.storage,
                           "detail": exc.detail}
        return True, {"status": "ok", "storage": self.settings.storage,
                      "latency_ms": round((time.perf_counter() - started) * 1000, 1)}

    def tick(self) -> dict:
        """Periodic housekeeping, run by the scheduled lambda (the ticker locally).

        Expired leases need no sweep (an item whose lease has expired is simply
        visible again).  Push deliveries whose retry is due, circuit-breaker
        probes and pending verifications are driven from here on AWS (the
        stream only fires on writes).
        """
        try:
            return {"ran_at": time.time(), **self.schedules.fire_due(), **self.dispatcher.sweep()}
        finally:
            metrics.flush()


def admin_token_source(settings: Settings):
    """The admin token, or (``TLKS_ADMIN_TOKEN_PARAMETER`` set) a function reading it from SSM
    Parameter Store, decrypted and cached by powertools for 5 minutes (rotation: docs/deploy.md).
    """
    name = settings.admin_token_parameter
    if not name:
        return settings.admin_token

    def from_ssm() -> str | None:
        from aws_lambda_powertools.utilities.parameters import get_parameter
        return get_parameter(name, decrypt=True, max_age=300)
    return from_ssm


def build_bus(settings: Settings, storage: Storage | None = None, clock=time.time) -> Bus:
    storage = storage or open_storage(settings, clock=clock)
    docs, queues = storage.docs, storage.queues
    # the compiled routing table lives as long as the Bus; caching.py says what is cached
    routes = RoutingTables(docs, recheck_seconds=settings.cache_seconds / 5)
    topics = Topics(docs, routes, settings.cache_seconds)
    routing = Routing(topics, routes, settings, clock=clock)
    policy = CallbackPolicy(parse_allow_list(settings.callback_allow))
    client = WebhookClient(settings.delivery_connect_timeout, settings.delivery_read_timeout)
    pipeline = build_pipeline(settings, docs)
    push = PushSubscriptions(docs, queues, settings, policy, clock=clock)
    outcomes = Outcomes(docs, queues, settings, policy, client, clock=clock)
    replies = Replies(docs, settings, clock=clock)
    tracking = Tracking(docs, replies, outcomes)
    subscriptions = Subscriptions(docs, queues, topics, settings, push, routes, tracking,
                                  pipeline)
    publisher = Publisher(docs, queues, topics, settings, routing, outcomes, policy, pipeline,
                          clock=clock, notify=lambda queue: push.on_enqueued(queue))
    plain_queues = Queues(docs, queues, settings)
    auth = Authenticator(docs, admin_token_source(settings), settings.cache_seconds)
    bus = Bus(
        settings=settings,
        storage=storage,
        auth=auth,
        services=ServiceRegistry(docs, on_deregister=subscriptions.delete_for_service),
        topics=topics,
        subscriptions=subscriptions,
        publisher=publisher,
        queues=plain_queues,
        push=push,
        dispatcher=Dispatcher(docs, queues, subscriptions, push, settings, policy, tracking,
                              client=client, clock=clock, pipeline=pipeline),
        routing=routing,
        events=Events(publisher, replies, subscriptions, tracking, settings),
        outcomes=outcomes,
        log_rules=next(m.rules for m in pipeline.middleware if isinstance(m, RuleLogging)),
        schedules=Schedules(docs, queues, publisher, plain_queues, topics, settings, clock=clock),
    )
    bus.services.on_revoke = auth.forget
    observe(bus, SystemEvents(publisher, topics))
    return bus


def observe(bus: Bus, system: SystemEvents) -> None:
    """The bus publishes its own changes on ``bus.*`` topics (system_events.py)."""
    bus.services.on_change = system.service
    bus.topics.on_change = system.topic
    bus.subscriptions.on_change = system.subscription
    bus.push.on_change = system.subscription
    bus.dispatcher.system = system
    bus.subscriptions.on_dead = system.dead_lettered
    bus.schedules.on_fired = system.schedule_fired


@functools.lru_cache(maxsize=1)
def get_bus() -> Bus:
    return build_bus(Settings.from_env())
