"""Scheduled events: cron / rate / at / crontab schedules that publish to a topic
or push to a queue.

Every enabled schedule has exactly one *fire job* in the time-keyed queue
``sys.schedules``: its key is the next fire time (``disciplines.time_key``)
and it is visible from that instant.  The tick (the scheduled lambda on AWS,
the ticker locally) leases only what is due, ``lease(upto=<now>)``, which on
DynamoDB is a key-range Query: the tick reads the due jobs and nothing else,
however many schedules exist.  The lease makes two overlapping ticks take
different jobs, and a tick that dies mid-fire leaves its job to come back
after the visibility timeout.

Firing a job: publish (the event id is ``sch-<name>-<fire ms>``, so a fire
repeated after a crash is the same event to the publisher's idempotency
window), push the next job (its key depends only on the schedule and the
time, so a repeat overwrites it), then ack.  A job whose schedule was
deleted, paused or changed since (``version``, new and random at every
create and change, so a job of a deleted schedule never fires a new one of the
same name) is dropped: PATCH makes a new version and queues a new job.

After downtime a due job is *late*: ``missed: fire-once`` (default) fires it
once and continues from now; ``skip`` continues from now without firing.
"""
from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone

from chalicelib.config import Settings
from chalicelib.domain import disciplines
from chalicelib.domain.schedule_expressions import ScheduleExpression, parse
from chalicelib.domain.timeutil import iso
from chalicelib.domain.validation import validate
from chalicelib.errors import (BusError, Conflict, Forbidden, NotFound, PayloadTooLarge,
                               ValidationFailed)
from chalicelib.observability import logger
from chalicelib.services.auth import Principal
from chalicelib.services.publishing import Publisher
from chalicelib.services.queues import Queues
from chalicelib.services.topics import Topics
from chalicelib.storage.base import AlreadyExists, DocumentStore, QueueStore, StoredItem

SCHEDULES = "schedule"
RUNS = "schedule-run"
FIRE_QUEUE = "sys.schedules"
FIRE_LEASE_SECONDS = 60
BATCH = 25
UPCOMING = 5


class Schedules:
    def __init__(self, docs: DocumentStore, queues: QueueStore, publisher: Publisher,
                 plain_queues: Queues, topics: Topics, settings: Settings,
                 clock=time.time) -> None:
        self.docs = docs
        self.queues = queues
        self.publisher = publisher
        self.plain_queues = plain_queues
        self.topics = topics
        self.settings = settings
        self.clock = clock
        # a job more than this late was missed (the tick runs once a minute on AWS)
        self.grace_seconds = 120.0
        self.on_fired = lambda schedule, occurrence, result: None   # system events

    # ---------------------------------------------------------------- CRUD

    def create(self, principal: Principal, body: object) -> dict:
        principal.require_service()
        body = validate("schedule_create", body)
        expression = parse(body["expression"], body.get("timezone", "UTC"))
        target = self._check_target(principal, body["target"])
        now = int(self.clock() * 1000) / 1000     # fire times are whole milliseconds
        schedule = {
            "name": body["name"], "owner": principal.service_name,
            "owner_id": principal.service_id, "expression": expression.text,
            "kind": expression.kind, "timezone": expression.timezone,
            "description": body.get("description", ""), "target": target,
            "missed": body.get("missed", "fire-once"), "state": body.get("state", "enabled"),
            "version": _new_version(), "anchor": now, "created_at": iso(now), "updated_at": iso(now)}
        try:
            self.docs.put(SCHEDULES, schedule["name"], schedule, create_only=True)
        except AlreadyExists:
            raise Conflict(f"a schedule named {schedule['name']!r} exists",
                           code="schedule-exists") from None
        self._plan(schedule, expression, now)
        return self.view(schedule)

    def list(self, principal: Principal) -> list[dict]:
        return [self._public(s) for s in self.docs.list(SCHEDULES)
                if principal.is_admin or s["owner_id"] == principal.service_id]

    def get(self, principal: Principal, name: str) -> dict:
        return self.view(self._owned(principal, name))

    def update(self, principal: Principal, name: str, body: object) -> dict:
        """``PATCH``: pause / resume / change; a new version replaces the pending fire."""
        schedule = self._owned(principal, name)
        body = validate("schedule_patch", body)
        expression = parse(body.get("expression", schedule["expression"]),
                           body.get("timezone", schedule["timezone"]))
        if "target" in body:
            schedule["target"] = self._check_target(principal, body["target"])
        now = int(self.clock() * 1000) / 1000
        timing = any(key in body for key in ("expression", "timezone", "state"))
        schedule.update(expression=expression.text, kind=expression.kind,
                        timezone=expression.timezone, updated_at=iso(now),
                        **{k: body[k] for k in ("description", "missed", "state") if k in body})
        if timing:
            schedule["version"] = _new_version()
            if "expression" in body:
                schedule["anchor"] = now
        self.docs.put(SCHEDULES, name, schedule)
        if timing:
            self._plan(schedule, expression, now)
        return self.view(schedule)

    def delete(self, principal: Principal, name: str) -> None:
        self._owned(principal, name)
        self.docs.delete(SCHEDULES, name)
        self.docs.delete(RUNS, name)        # its pending fire job is dropped when due

    def view(self, schedule: dict) -> dict:
        """The schedule, its run state, and its next fire times in its own zone."""
        run = self.docs.get(RUNS, schedule["name"]) or {}
        view = {**self._public(schedule), **{k: v for k, v in run.items() if k != "version"}}
        upcoming: list[str] = []
        if schedule["state"] == "enabled" and run.get("status") != "completed":
            expression = parse(schedule["expression"], schedule["timezone"])
            after = datetime.fromtimestamp(max(self.clock(), run.get("next_fire_epoch", 0) - 1e-3),
                                           timezone.utc)
            upcoming = [t.isoformat() for t in expression.upcoming(
                after, UPCOMING, anchor=_utc(schedule["anchor"]))]
        view["next_fire_times"] = upcoming
        view.pop("next_fire_epoch", None)
        return view

    # ---------------------------------------------------------------- firing

    def fire_due(self) -> dict:
        """Fire every due occurrence (the tick).  Returns counts."""
        fired = dropped = 0
        while True:
            now = self.clock()
            leased = self.queues.lease(FIRE_QUEUE, BATCH, FIRE_LEASE_SECONDS,
                                       upto=disciplines.time_key(int(now * 1000), "~"))
            if not leased:
                return {"schedules_fired": fired, "schedule_jobs_dropped": dropped}
            for lease in leased:
                try:
                    done = self._fire(json.loads(lease.item.payload), now)
                except BusError as exc:     # e.g. its topic was deleted: say so, keep going
                    self._failed(json.loads(lease.item.payload), exc)
                    self.queues.nack(FIRE_QUEUE, [lease.receipt], FIRE_LEASE_SECONDS)
                    continue
                fired += done
                dropped += not done
                self.queues.ack(FIRE_QUEUE, [lease.receipt])

    def _fire(self, job: dict, now: float) -> bool:
        schedule = self.docs.get(SCHEDULES, job["schedule"])
        if schedule is None or schedule["version"] != job["version"] \
                or schedule["state"] != "enabled":
            return False                     # a stale job: the schedule moved on
        occurrence = job["at"] / 1000
        late = now - occurrence > self.grace_seconds
        run = self.docs.get(RUNS, schedule["name"]) or {"fired_count": 0}
        fired = False
        if not late or schedule["missed"] == "fire-once":
            result = self._publish(schedule, occurrence)
            run.update(last_fired_at=iso(now), last_occurrence=iso(occurrence),
                       last_result=result, fired_count=run.get("fired_count", 0) + 1)
            run.pop("last_error", None)
            fired = True
            self.on_fired(schedule, occurrence, result)
        else:
            run["skipped_count"] = run.get("skipped_count", 0) + 1
        expression = parse(schedule["expression"], schedule["timezone"])
        self._plan(schedule, expression, now if late else occurrence, run)
        return fired

    def _failed(self, job: dict, exc: BusError) -> None:
        """A fire failed (tried again in a minute): the run state shows why."""
        logger.warning("schedule fire failed", extra={
            "schedule": job["schedule"], "code": exc.code, "detail": exc.detail})
        run = self.docs.get(RUNS, job["schedule"])
        if run is not None:
            run["last_error"] = {"at": iso(self.clock()), "code": exc.code, "detail": exc.detail}
            self.docs.put(RUNS, job["schedule"], run)

    def _publish(self, schedule: dict, occurrence: float) -> dict:
        owner = Principal("service", schedule["owner_id"], schedule["owner"])
        target = schedule["target"]
        event_id = f"sch-{schedule['name']}-{int(occurrence * 1000)}"
        if "topic" in target:
            event = {k: target[k] for k in ("type", "data", "subject") if k in target}
            result = self.publisher.publish_as(
                owner, target["topic"], {**event, "id": event_id},
                {"scheduleid": schedule["name"], "scheduledtime": iso(occurrence)})
            return {"event_id": result["id"]}
        message = {"body": {"schedule_id": schedule["name"], "scheduled_time": iso(occurrence),
                            "body": target["body"]}, "priority": target.get("priority", 0)}
        return {"message_id": self.plain_queues.push_once(owner, target["queue"], message,
                                                          event_id, occurrence)["id"]}

    def _plan(self, schedule: dict, expression: ScheduleExpression, after: float,
              run: dict | None = None) -> None:
        """Queue the fire job for the first occurrence after ``after``; record the run state."""
        run = run if run is not None else (self.docs.get(RUNS, schedule["name"]) or {})
        run["version"] = schedule["version"]
        following = None
        if schedule["state"] == "enabled":
            following = expression.next_after(_utc(after), anchor=_utc(schedule["anchor"]))
        if following is not None:
            at_ms = int(following.timestamp() * 1000)
            job = f"{schedule['name']}.{schedule['version']}"
            self.queues.push(FIRE_QUEUE, [StoredItem(
                key=disciplines.time_key(at_ms, job), id=f"{job}.{at_ms}",
                payload=json.dumps({"schedule": schedule["name"],
                                    "version": schedule["version"], "at": at_ms}),
                enqueued_at=int(self.clock() * 1000), visible_at=at_ms)])
            run.update(status="scheduled", next_fire_at=iso(at_ms / 1000),
                       next_fire_epoch=at_ms / 1000)
        else:
            run.update(status="completed" if schedule["state"] == "enabled" else "paused",
                       next_fire_at=None, next_fire_epoch=0)
        self.docs.put(RUNS, schedule["name"], run)

    # ---------------------------------------------------------------- helpers

    def _check_target(self, principal: Principal, target: dict) -> dict:
        def invalid(message: str) -> ValidationFailed:
            return ValidationFailed(message, extra={"errors": [{"field": "target",
                                                                "message": message}]})
        if ("topic" in target) == ("queue" in target):
            raise invalid("a target names either a topic or a queue")
        size = len(json.dumps(target, separators=(",", ":")).encode())
        if size > self.settings.max_payload_bytes:
            raise PayloadTooLarge(f"the target is {size} bytes of JSON; what a schedule fires "
                                  f"may be at most {self.settings.max_payload_bytes}",
                                  extra={"limit": self.settings.max_payload_bytes})
        if "topic" in target:
            extra = sorted({"body", "priority"} & set(target))
            if extra or "type" not in target or "data" not in target:
                raise invalid("a topic target has type and data (and maybe subject), "
                              "not body or priority")
            self.topics.check_publisher(principal, self.topics.load(target["topic"]))
        else:
            extra = sorted({"type", "data", "subject"} & set(target))
            if extra or "body" not in target:
                raise invalid("a queue target has body (and maybe priority), not type, data "
                              "or subject")
            self.plain_queues.load(target["queue"])
        return target

    def _owned(self, principal: Principal, name: str) -> dict:
        schedule = self.docs.get(SCHEDULES, name)
        if schedule is None:
            raise NotFound(f"no schedule named {name!r}", code="schedule-not-found")
        if not (principal.is_admin or principal.service_id == schedule["owner_id"]):
            raise Forbidden("only the schedule's owner or the admin may see or change it",
                            code="not-your-schedule")
        return schedule

    @staticmethod
    def _public(schedule: dict) -> dict:
        view = {k: v for k, v in schedule.items() if k not in ("anchor", "owner_id")}
        view["id"] = schedule["name"]
        return view


def _new_version() -> str:
    return secrets.token_hex(4)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)
