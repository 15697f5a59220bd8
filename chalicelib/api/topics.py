"""Routes: /topics, publishing (/topics/{name}/events, /events), event status and replies."""
from urllib.parse import quote

from chalice import Blueprint

from chalicelib.api.http import (EVENT_CONTENT_TYPES, base_url, body, bus, created, endpoint,
                                 event_body, header, principal, query_int, respond)
from chalicelib.errors import Unauthorized

bp = Blueprint(__name__)


@bp.route("/topics", methods=["POST"])
@endpoint
def create_topic():
    topic = bus().topics.create(principal(), body())
    return created(topic, f"/topics/{topic['name']}")


@bp.route("/topics", methods=["GET"])
@endpoint
def list_topics():
    return respond({"topics": bus().topics.list(principal())})


@bp.route("/topics/{name}", methods=["GET"])
@endpoint
def get_topic(name):
    """The topic URL, with WebSub discovery: ``Link: <hub>; rel="hub", <self>; rel="self"``.

    Discovery needs no token: a GET without one (or with a bad one) answers 401 with
    the Link headers and nothing else.  They are sent whether the topic exists or not,
    so they tell no one which topics exist; the topic itself needs a token, as before.
    """
    links = f'<{base_url()}/hub>; rel="hub", <{base_url()}/topics/{quote(name)}>; rel="self"'
    try:
        caller = principal()
    except Unauthorized as exc:
        exc.headers = {**exc.headers, "Link": links}
        raise
    return respond(bus().topics.get(caller, name), headers={"Link": links})


@bp.route("/topics/{name}/schemas", methods=["PUT"])
@endpoint
def set_schemas(name):
    return respond(bus().topics.set_schemas(principal(), name, body()))


@bp.route("/topics/{name}", methods=["DELETE"])
@endpoint
def delete_topic(name):
    bus().topics.delete(principal(), name)
    return respond(status=204)


@bp.route("/topics/{name}/events", methods=["POST"], content_types=EVENT_CONTENT_TYPES)
@endpoint
def publish(name):
    return respond(*bus().events.publish(principal(), name, event_body(), base_url(),
                                         header("Prefer")))


@bp.route("/events", methods=["POST"], content_types=EVENT_CONTENT_TYPES)
@endpoint
def multicast():
    return respond(*bus().events.publish(principal(), None, event_body(), base_url(),
                                         header("Prefer")))


@bp.route("/events/{event_id}", methods=["GET"])
@endpoint
def get_event(event_id):
    wait = query_int("wait", 0, 0, bus().settings.max_sync_wait_seconds)
    return respond(bus().events.get(principal(), event_id, wait))


@bp.route("/events/{event_id}/reply", methods=["POST"])
@endpoint
def reply(event_id):
    return respond(bus().events.reply(principal(), event_id, body()), 201)
