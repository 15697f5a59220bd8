"""Route: /health (no auth) - is the storage backend reachable?"""
from chalice import Blueprint

from chalicelib.api.http import bus, endpoint, respond

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
@endpoint
def health():
    ok, report = bus().health()
    # like every 503 of the bus: when to look again
    return respond(report) if ok else respond(report, 503, {"Retry-After": "5"})
