"""Routes: /logging (runtime logging rules, admin only)."""
from chalice import Blueprint

from chalicelib.api.http import body, bus, endpoint, principal, respond

bp = Blueprint(__name__)


@bp.route("/logging", methods=["GET"])
@endpoint
def get_rules():
    return respond(bus().log_rules.get(principal()))


@bp.route("/logging", methods=["PUT"])
@endpoint
def put_rules():
    return respond(bus().log_rules.put(principal(), body()))
