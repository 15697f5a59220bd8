"""Routes: /schedules (scheduled events)."""
from chalice import Blueprint

from chalicelib.api.http import body, bus, created, endpoint, principal, respond

bp = Blueprint(__name__)


@bp.route("/schedules", methods=["POST"])
@endpoint
def create_schedule():
    schedule = bus().schedules.create(principal(), body())
    return created(schedule, f"/schedules/{schedule['name']}")


@bp.route("/schedules", methods=["GET"])
@endpoint
def list_schedules():
    return respond({"schedules": bus().schedules.list(principal())})


@bp.route("/schedules/{name}", methods=["GET"])
@endpoint
def get_schedule(name):
    return respond(bus().schedules.get(principal(), name))


@bp.route("/schedules/{name}", methods=["PATCH"])
@endpoint
def update_schedule(name):
    return respond(bus().schedules.update(principal(), name, body()))


@bp.route("/schedules/{name}", methods=["DELETE"])
@endpoint
def delete_schedule(name):
    bus().schedules.delete(principal(), name)
    return respond(status=204)
