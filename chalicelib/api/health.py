"""Route: /health (no auth) - is the storage backend reachable?"""
from chalice import Blueprint

from chalicelib.api.http import bus, endpoint, respond

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
@endpoint
def health():
    ok, report = bus().health()
    return respond(report, 200 if ok else 503)
