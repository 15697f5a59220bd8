"""Routes: /subscriptions (pull: pull, ack, nack, dead letters; push: deliveries, secret,
pause, resume) and WebSub's /hub."""
from chalice import Blueprint

from chalicelib.api.http import (
    base_url, body, bus, created, endpoint, form_body, own_base_urls, principal, query_int,
    query_str, respond,
)

bp = Blueprint(__name__)


@bp.route("/subscriptions", methods=["POST"])
@endpoint
def create_subscription():
    subscription = bus().subscriptions.create(principal(), body(), base_url())
    return created(subscription, f"/subscriptions/{subscription['id']}",
                   202 if subscription["mode"] == "push" else 201)


@bp.route("/hub", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
@endpoint
def hub():
    return respond(bus().push.hub_request(principal(), form_body(), own_base_urls(),
                                          bus().subscriptions), 202)


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


@bp.route("/subscriptions/{sub_id}/extend", methods=["POST"])
@endpoint
def extend(sub_id):
    return respond(bus().subscriptions.extend(principal(), sub_id, body()))


@bp.route("/subscriptions/{sub_id}/dead-letters", methods=["GET"])
@endpoint
def dead_letters(sub_id):
    limit = query_int("limit", 100, 1, 1000)
    return respond(bus().subscriptions.dead_letters(principal(), sub_id, limit))


@bp.route("/subscriptions/{sub_id}/dead-letters/redrive", methods=["POST"])
@endpoint
def redrive(sub_id):
    return respond(bus().subscriptions.redrive(principal(), sub_id, body()))


@bp.route("/subscriptions/{sub_id}/deliveries", methods=["GET"])
@endpoint
def deliveries(sub_id):
    return respond(bus().subscriptions.deliveries(principal(), sub_id,
                                                  query_int("limit", 100, 1, 1000),
                                                  query_str("event_id")))


@bp.route("/subscriptions/{sub_id}/secret", methods=["POST"])
@endpoint
def rotate_secret(sub_id):
    return respond(bus().subscriptions.rotate_secret(principal(), sub_id, body()))


@bp.route("/subscriptions/{sub_id}/pause", methods=["POST"])
@endpoint
def pause(sub_id):
    return respond(bus().subscriptions.pause(principal(), sub_id))


@bp.route("/subscriptions/{sub_id}/resume", methods=["POST"])
@endpoint
def resume(sub_id):
    return respond(bus().subscriptions.resume(principal(), sub_id))
