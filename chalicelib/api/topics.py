"""Routes: /topics, publishing (/topics/{name}/events, /events) and event status."""
from chalice import Blueprint

from chalicelib.api.http import body, bus, endpoint, principal, respond

bp = Blueprint(__name__)


@bp.route("/topics", methods=["POST"])
@endpoint
def create_topic():
    return respond(bus().topics.create(principal(), body()), 201)


@bp.route("/topics", methods=["GET"])
@endpoint
def list_topics():
    return respond({"topics": bus().topics.list(principal())})


@bp.route("/topics/{name}", methods=["GET"])
@endpoint
def get_topic(name):
    return respond(bus().topics.get(principal(), name))


@bp.route("/topics/{name}", methods=["DELETE"])
@endpoint
def delete_topic(name):
    bus().topics.delete(principal(), name)
    return respond(status=204)


@bp.route("/topics/{name}/events", methods=["POST"])
@endpoint
def publish(name):
    return respond(bus().publisher.publish(principal(), name, body()), 202)


@bp.route("/events", methods=["POST"])
@endpoint
def multicast():
    return respond(bus().publisher.multicast(principal(), body()), 202)


@bp.route("/events/{event_id}", methods=["GET"])
@endpoint
def get_event(event_id):
    return respond(bus().publisher.get(principal(), event_id))
