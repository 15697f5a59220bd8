"""Routes: /services (registration, profile, token rotation)."""
from chalice import Blueprint

from chalicelib.api.http import body, bus, created, endpoint, principal, respond

bp = Blueprint(__name__)


@bp.route("/services", methods=["POST"])
@endpoint
def register_service():
    service = bus().services.register(principal(), body())
    return created(service, f"/services/{service['id']}")


@bp.route("/services", methods=["GET"])
@endpoint
def list_services():
    return respond({"services": bus().services.list(principal())})


@bp.route("/services/{service_id}", methods=["GET"])
@endpoint
def get_service(service_id):
    return respond(bus().services.get(principal(), service_id))


@bp.route("/services/{service_id}", methods=["PATCH"])
@endpoint
def update_service(service_id):
    return respond(bus().services.update(principal(), service_id, body()))


@bp.route("/services/{service_id}", methods=["DELETE"])
@endpoint
def deregister_service(service_id):
    bus().services.deregister(principal(), service_id)
    return respond(status=204)


@bp.route("/services/{service_id}/token", methods=["POST"])
@endpoint
def rotate_token(service_id):
    return respond(bus().services.rotate_token(principal(), service_id))
