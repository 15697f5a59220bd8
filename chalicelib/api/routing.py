"""Routes: content-based routing (/patterns/test, /routing/explain)."""
from chalice import Blueprint

from chalicelib.api.http import body, bus, endpoint, principal, respond

bp = Blueprint(__name__)


@bp.route("/patterns/test", methods=["POST"])
@endpoint
def test_pattern():
    return respond(bus().routing.test_pattern(principal(), body()))


@bp.route("/routing/explain", methods=["POST"])
@endpoint
def explain_routing():
    return respond(bus().routing.explain(principal(), body()))
