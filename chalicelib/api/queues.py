"""Routes: /queues (the multi-queue system)."""
from chalice import Blueprint

from chalicelib.api.http import body, bus, created, endpoint, principal, query_int, respond

bp = Blueprint(__name__)


@bp.route("/queues", methods=["POST"])
@endpoint
def create_queue():
    queue = bus().queues.create(principal(), body())
    return created(queue, f"/queues/{queue['name']}")


@bp.route("/queues", methods=["GET"])
@endpoint
def list_queues():
    return respond({"queues": bus().queues.list(principal())})


@bp.route("/queues/{name}", methods=["GET"])
@endpoint
def get_queue(name):
    return respond(bus().queues.get(principal(), name))


@bp.route("/queues/{name}", methods=["DELETE"])
@endpoint
def delete_queue(name):
    bus().queues.delete(principal(), name)
    return respond(status=204)


@bp.route("/queues/{name}/messages", methods=["POST"])
@endpoint
def push(name):
    return respond(bus().queues.push(principal(), name, body()), 201)


@bp.route("/queues/{name}/messages", methods=["GET"])
@endpoint
def peek(name):
    return respond(bus().queues.peek(principal(), name, query_int("limit", 10, 1, 100)))


@bp.route("/queues/{name}/messages", methods=["DELETE"])
@endpoint
def purge(name):
    bus().queues.purge(principal(), name)
    return respond(status=204)


@bp.route("/queues/{name}/lease", methods=["POST"])
@endpoint
def lease(name):
    return respond(bus().queues.lease(principal(), name, body()))


@bp.route("/queues/{name}/ack", methods=["POST"])
@endpoint
def ack(name):
    return respond(bus().queues.ack(principal(), name, body()))


@bp.route("/queues/{name}/nack", methods=["POST"])
@endpoint
def nack(name):
    return respond(bus().queues.nack(principal(), name, body()))


@bp.route("/queues/{name}/extend", methods=["POST"])
@endpoint
def extend(name):
    return respond(bus().queues.extend(principal(), name, body()))


@bp.route("/queues/{name}/dead-letters", methods=["GET"])
@endpoint
def dead_letters(name):
    limit = query_int("limit", 100, 1, 1000)
    return respond(bus().queues.dead_letters(principal(), name, limit))
