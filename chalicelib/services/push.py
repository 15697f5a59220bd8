"""Push subscriptions: the WebSub side of the hub.

A push subscription starts ``pending``; the hub then verifies the subscriber's
intent with a ``GET callback?hub.mode=…&hub.topic=…&hub.challenge=…`` and
only an exact echo of the challenge in a 2xx answer makes it ``active`` (or,
for an unsubscribe request, removes it).  Verification runs in the
dispatcher, off the request path (a verification job in the ``sys.verify``
queue), as WebSub's 202-then-verify flow has it.

Statuses: ``pending`` → ``active`` | ``denied``; ``active`` → ``paused``
(circuit breaker or by hand) → ``active``; ``active`` → ``expired`` when its
lease runs out without renewal.

Every push subscription has a signing secret: the subscriber's, or one the
bus generates (``whsec_…``, shown once in the creation answer).  Rotating it
keeps the previous one valid for an overlap: deliveries then carry both
Standard Webhooks signatures (signing.py).
"""
from __future__ import annotations

import json
import secrets
import time
from urllib.parse import urlsplit

from chalicelib.config import Settings
from chalicelib.delivery.callbacks import CallbackPolicy
from chalicelib.delivery.signing import check_secret, new_secret
from chalicelib.domain import disciplines
from chalicelib.domain.schemas import PUSH_ONLY
from chalicelib.domain.timeutil import iso, iso_now
from chalicelib.domain.validation import validate
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.observability import logger
from chalicelib.services.auth import Principal
from chalicelib.storage.base import DocumentStore, QueueStore, StoredItem

VERIFY_QUEUE = "sys.verify"
MAX_PROBE_SECONDS = 3600.0
MAX_LEASE_SECONDS = 365 * 24 * 3600
#: WebSub parameters the hub reads; any other parameter is ignored (WebSub 5.1)
HUB_PARAMETERS = ("hub.mode", "hub.topic", "hub.callback", "hub.lease_seconds", "hub.secret")
ATTEMPTS_TTL_SECONDS = 7 * 24 * 3600
DEFAULT_OVERLAP_SECONDS = 86400


def attempts_collection(sub_id: str) -> str:
    return f"attempts:{sub_id}"


class PushSubscriptions:
    def __init__(self, docs: DocumentStore, queues: QueueStore, settings: Settings,
                 policy: CallbackPolicy, clock=time.time) -> None:
        self.docs = docs
        self.queues = queues
        self.settings = settings
        self.policy = policy
        self.clock = clock
        self.on_enqueued = lambda queue: None      # the local worker's wake-up hook
        self.on_change = lambda verb, subscription: None   # system events

    def push_fields(self, body: dict, topics: list[dict], base_url: str) -> dict:
        """Validate the push options of a subscription request; the fields to store."""
        if body.get("mode", "pull") != "push":
            extra = [name for name in PUSH_ONLY if name in body]
            if extra:
                raise ValidationFailed(f"{', '.join(extra)} only apply to push subscriptions "
                                       f"(\"mode\": \"push\")")
            return {}
        self.policy.check(body["callback"])
        check_secret(body.get("secret"), "secret")
        if body.get("ordered") and any(t["discipline"] != "fifo" for t in topics):
            raise Conflict("ordered delivery needs FIFO topics", code="ordered-needs-fifo")
        return {
            "callback": body["callback"],
            "secret": body.get("secret") or new_secret(),
            "ordered": bool(body.get("ordered", False)),
            "lease_seconds": body.get("lease_seconds"),
            "expires_at": None,
            "status": "pending",
            "status_reason": "waiting for the callback to confirm the subscription",
            "hub_url": f"{base_url}/hub",
            "topic_urls": {t["name"]: f"{base_url}/topics/{t['name']}" for t in topics},
            "breaker": closed_breaker(),
        }

    def request_verification(self, subscription: dict, mode: str) -> None:
        """Queue a verification of intent (``subscribe`` or ``unsubscribe``)."""
        job_id = f"verify-{subscription['id']}-{mode}-{secrets.token_hex(4)}"
        now = self.clock()
        key = disciplines.sort_key("fifo", disciplines.next_seq(now), job_id)
        payload = json.dumps({"subscription": subscription["id"], "mode": mode})
        self.queues.push(VERIFY_QUEUE, [StoredItem(key=key, id=job_id, payload=payload)])
        self.on_enqueued(VERIFY_QUEUE)

    def hub_request(self, principal: Principal, form: dict, base_urls: list[str],
                    subscriptions) -> dict:
        """``POST /hub``: a WebSub subscribe / unsubscribe request (202).

        ``base_urls``: the bus's own base URLs (the configured public one first,
        then the one this request reached); ``hub.topic`` must be on one of them.
        Parameters the hub does not know (``hub.verify``, ``hub.verify_token`` of
        PubSubHubbub 0.3 clients, anything else) are ignored, as WebSub says.
        """
        principal.require_service()
        # validated whole, so that a refusal for a missing hub.topic can point at a
        # near-miss "hub.topik" beside it; unknown parameters are then dropped
        form = validate("hub_request", form)
        form = {k: v for k, v in form.items() if k in HUB_PARAMETERS}
        check_secret(form.get("hub.secret"), "hub.secret")
        topic = topic_name(form["hub.topic"], base_urls)
        callback = form["hub.callback"]
        existing = [s for s in subscriptions.list(principal)
                    if s.get("callback") == callback and topic in s["topics"]]
        if form["hub.mode"] == "unsubscribe":
            if not existing:
                raise NotFound(f"no subscription of {callback!r} to topic {topic!r}",
                               code="subscription-not-found")
            for subscription in existing:
                self.request_verification(subscription, "unsubscribe")
            return {"status": "unsubscribe requested", "subscriptions": [s["id"] for s in existing]}
        lease = int(form.get("hub.lease_seconds") or self.settings.hub_lease_seconds)
        lease = max(60, min(lease, MAX_LEASE_SECONDS))
        if existing:          # renewal: new lease (and secret, when one is given), verified again
            subscription = subscriptions.load(existing[0]["id"]) or existing[0]
            subscription["lease_seconds"] = lease
            if form.get("hub.secret"):
                subscription.update(secret=form["hub.secret"], previous_secret=None,
                                    previous_secret_until=None)
            self.docs.put("subscription", subscription["id"], subscription)
            self.request_verification(subscription, "subscribe")
            return {"id": subscription["id"], "status": subscription["status"], "renewal": True}
        body = {"topics": [topic], "mode": "push", "callback": callback, "lease_seconds": lease}
        if form.get("hub.secret"):
            body["secret"] = form["hub.secret"]
        created = subscriptions.create(principal, body, base_urls[0])
        answer = {"id": created["id"], "status": created["status"]}
        if "secret" in created:                  # generated: shown this once
            answer["secret"] = created["secret"]
        return answer

    def rotate_secret(self, subscription: dict, body: dict) -> dict:
        """A new secret (given or generated); the current one stays valid for the overlap.

        Only two secrets are ever valid: a previous one still in its overlap is dropped.
        """
        body = validate("secret_rotate", body)
        check_secret(body.get("secret"), "secret")
        overlap = body.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS)
        secret = body.get("secret") or new_secret()
        until = self.clock() + overlap if overlap and subscription.get("secret") else None
        subscription.update(secret=secret,
                            previous_secret=subscription.get("secret") if until else None,
                            previous_secret_until=until)
        self.docs.put("subscription", subscription["id"], subscription)
        return {"id": subscription["id"], "secret": secret,
                "previous_secret_expires_at": iso(until) if until else None}

    def mark(self, subscription: dict, status: str, reason: str, **fields) -> dict:
        subscription.update(status=status, status_reason=reason, status_changed_at=iso_now(),
                            **fields)
        self.docs.put("subscription", subscription["id"], subscription)
        return subscription

    def activate(self, subscription: dict) -> dict:
        lease = subscription.get("lease_seconds")
        expires = self.clock() + lease if lease else None
        activated = self.mark(subscription, "active", "the callback confirmed the subscription",
                              expires_at=iso(expires) if expires else None,
                              expires_epoch=expires)
        self.on_change("activated", activated)
        return activated

    def pause(self, subscription: dict, reason: str) -> dict:
        """Paused by hand: no breaker probes, nothing sent until ``resume``."""
        subscription["breaker"] = closed_breaker()
        return self.mark(subscription, "paused", reason)

    def resume(self, subscription: dict) -> dict:
        subscription["breaker"] = closed_breaker()
        resumed = self.mark(subscription, "active", "resumed")
        self.on_enqueued(subscription["queue"])
        return resumed

    def breaker_failure(self, subscription: dict) -> None:
        """A failed attempt: count it; open the breaker at the threshold, or after a
        failed probe wait twice as long (at most an hour).  Updates ``subscription``."""
        current = self.docs.get("subscription", subscription["id"]) or subscription
        breaker = current.setdefault("breaker", {"failures": 0})
        breaker["failures"] = breaker.get("failures", 0) + 1
        paused = current.get("status") == "paused"
        if paused and breaker.get("probe_at"):      # a failed probe: wait twice as long
            wait = min((breaker.get("probe_seconds") or self.settings.breaker_probe_seconds) * 2,
                       MAX_PROBE_SECONDS)
            breaker.update(probe_seconds=wait, probe_at=self.clock() + wait)
        elif not paused and breaker["failures"] >= self.settings.breaker_threshold:
            wait = self.settings.breaker_probe_seconds
            breaker.update(probe_seconds=wait, probe_at=self.clock() + wait)
            current.update(status="paused", status_reason=(
                f"circuit open after {breaker['failures']} consecutive failures; "
                f"probing the callback"), status_changed_at=iso(self.clock()))
            logger.warning("push subscription paused by its circuit breaker",
                           extra={"subscription": current["id"]})
        self.docs.put("subscription", current["id"], current)
        subscription.update(status=current["status"], breaker=breaker)

    def breaker_success(self, subscription: dict) -> None:
        """A delivered attempt: close the breaker (a paused one that was probing resumes)."""
        if (subscription.get("breaker") or {}).get("failures") or \
                subscription.get("status") == "paused":
            current = self.docs.get("subscription", subscription["id"]) or subscription
            probing = current.get("status") == "paused" and \
                (current.get("breaker") or {}).get("probe_at")
            current["breaker"] = closed_breaker()
            if probing:
                current.update(status="active", status_reason="the callback recovered",
                               status_changed_at=iso(self.clock()))
            self.docs.put("subscription", current["id"], current)
            subscription.update(status=current["status"], breaker=current["breaker"])

    def deliveries(self, subscription: dict, limit: int, event_id: str | None) -> list[dict]:
        attempts = self.docs.list(attempts_collection(subscription["id"]))
        if event_id:
            attempts = [a for a in attempts if a["event_id"] == event_id]
        attempts.sort(key=lambda a: a["at"], reverse=True)
        return attempts[:limit]

    def record_attempt(self, subscription: dict, attempt: dict) -> None:
        key = f"{attempt['event_id']}:{attempt['attempt']:03d}"
        self.docs.put(attempts_collection(subscription["id"]), key, attempt,
                      expires_at=int(self.clock()) + ATTEMPTS_TTL_SECONDS)


def hub_topic(subscription: dict) -> str:
    """WebSub's hub.topic: the topic URL, or for a content-only subscription its own URL."""
    if subscription["topics"]:
        topic = subscription["topics"][0]
        return subscription.get("topic_urls", {}).get(topic, topic)
    hub = subscription.get("hub_url", "")
    return f"{hub[:-len('/hub')] if hub.endswith('/hub') else hub}/subscriptions/" \
           f"{subscription['id']}"


def closed_breaker() -> dict:
    """Breaker state with no failures; ``probe_at`` is set only while the breaker is open."""
    return {"failures": 0, "probe_at": None, "probe_seconds": None}


def topic_name(topic: str, base_urls: list[str]) -> str:
    """The topic a ``hub.topic`` names: a topic URL of this bus, or a bare name.

    A URL on another host is refused, not read by its last path segment: a
    subscriber asking for ``https://elsewhere/topics/orders`` wants someone
    else's topic, not ours.
    """
    if "://" not in topic:
        parts = [p for p in topic.split("/") if p]
        if len(parts) == 1 or (len(parts) == 2 and parts[0] == "topics"):
            return parts[-1]
        raise _not_a_topic_url("hub.topic must be a topic URL (<bus>/topics/<name>) or a name")
    url = urlsplit(topic)
    try:
        where = _origin(url)
    except ValueError:
        where = None
    if where is None or url.query or url.fragment:
        raise _not_a_topic_url("hub.topic must be a topic URL (<bus>/topics/<name>) or a name")
    for base in base_urls:
        own = urlsplit(base)
        if _origin(own) != where:
            continue
        prefix = own.path.rstrip("/") + "/topics/"
        name = url.path[len(prefix):] if url.path.startswith(prefix) else ""
        if name and "/" not in name:
            return name
        raise _not_a_topic_url(f"hub.topic must be a topic URL of this bus "
                               f"({base.rstrip('/')}/topics/<name>) or a name")
    raise ValidationFailed(
        f"hub.topic {topic!r} is not on this bus ({', '.join(dict.fromkeys(base_urls))}): "
        f"this hub serves its own topics only", code="foreign-topic-url",
        extra={"errors": [{"field": "hub.topic", "message": "a topic URL of another host"}]})


def _origin(url) -> tuple[str, int] | None:
    """(host, port) of a URL, the port defaulting by scheme; raises ValueError on a bad port."""
    if not url.hostname:
        return None
    return url.hostname.lower(), url.port or (443 if url.scheme.lower() == "https" else 80)


def _not_a_topic_url(message: str) -> ValidationFailed:
    return ValidationFailed(message, extra={"errors": [{"field": "hub.topic",
                                                         "message": "not a topic URL"}]})


def signing_secrets(subscription: dict, now: float) -> list[str]:
    """The secrets that sign a delivery now: the current one, then a rotated-out one
    while its overlap lasts."""
    current = [subscription["secret"]] if subscription.get("secret") else []
    until = subscription.get("previous_secret_until")
    if subscription.get("previous_secret") and until and until > now:
        current.append(subscription["previous_secret"])
    return current


def public_view(subscription: dict) -> dict:
    """A subscription as the API shows it: never a secret."""
    view = {k: v for k, v in subscription.items()
            if k not in ("secret", "previous_secret", "previous_secret_until", "expires_epoch")}
    if subscription.get("mode") == "push":
        view["has_secret"] = bool(subscription.get("secret"))
    return view
