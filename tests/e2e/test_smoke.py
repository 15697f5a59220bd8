"""The local runner serves the app over real HTTP."""
import requests


def test_health_answers_200_without_auth(live_bus):
    response = requests.get(live_bus.url + "/health", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(response.json(), dict)


def test_an_unknown_route_is_a_404_problem(live_bus):
    response = requests.get(live_bus.url + "/no/such/route?x=1", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not-found"
    assert response.json()["instance"] == "/no/such/route"
