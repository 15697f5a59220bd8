"""Routes: /subscriptions (pull mode: pull, ack, nack, dead letters)."""
from chalice import Blueprint

from chalicelib.api.http import body, bus, endpoint, principal, query_int, respond

bp = Blueprint(__name__)


@bp.route("/subscriptions", methods=["POST"])
@endpoint
def create_subscription():
    return respond(bus().subscriptions.create(principal(), body()), 201)


@bp.route("/subscriptions", methods=["GET"])
@endpoint
def list_subscriptions():
    return respond({"subscriptions": bus().subscriptions.list(principal())})


@bp.route("/subscriptions/{sub_id}", methods=["GET"])
@endpoint
def get_subscription(sub_id):
    return respond(bus().subscriptions.get(principal(), sub_id))


@bp.route("/subscriptions/{sub_id}", methods=["DELETE"])
@endpoint
def delete_subscription(sub_id):
    bus().subscriptions.delete(principal(), sub_id)
    return respond(status=204)


@bp.route("/subscriptions/{sub_id}/pull", methods=["POST"])
@endpoint
def pull(sub_id):
    return respond(bus().subscriptions.pull(principal(), sub_id, body()))


@bp.route("/subscriptions/{sub_id}/ack", methods=["POST"])
@endpoint
def ack(sub_id):
    return respond(bus().subscriptions.ack(principal(), sub_id, body()))


@bp.route("/subscriptions/{sub_id}/nack", methods=["POST"])
@endpoint
def nack(sub_id):
    return respond(bus().subscriptions.nack(principal(), sub_id, body()))


@bp.route("/subscriptions/{sub_id}/dead-letters", methods=["GET"])
@endpoint
def dead_letters(sub_id):
    limit = query_int("limit", 100, 1, 1000)
    return respond(bus().subscriptions.dead_letters(principal(), sub_id, limit))
