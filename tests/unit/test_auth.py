"""Bearer tokens: the admin's, registered services', and nothing else."""
import pytest

from chalicelib.errors import Unauthorized
from chalicelib.services.auth import Authenticator, TOKENS, new_token, token_hash
from chalicelib.storage.memory import MemoryDocumentStore


@pytest.fixture
def auth():
    docs = MemoryDocumentStore()
    token = new_token()
    docs.put(TOKENS, token_hash(token), {"service_id": "svc_1", "service_name": "orders"})
    return Authenticator(docs, "the-admin-token"), token


def test_admin_token_gives_the_admin(auth):
    authenticator, _ = auth
    assert authenticator.authenticate("Bearer the-admin-token").is_admin


def test_service_token_gives_the_service(auth):
    authenticator, token = auth
    principal = authenticator.authenticate(f"bearer {token}")
    assert (principal.service_id, principal.service_name) == ("svc_1", "orders")


@pytest.mark.parametrize("header, code", [
    (None, "missing-token"), ("", "missing-token"), ("Bearer", "bad-auth-scheme"),
    ("Token abc", "bad-auth-scheme"), ("Bearer tlks_unknown", "invalid-token"),
    ("Bearer " + "x" * 5000, "invalid-token"),
])
def test_anything_else_is_refused(auth, header, code):
    authenticator, _ = auth
    with pytest.raises(Unauthorized) as caught:
        authenticator.authenticate(header)
    assert caught.value.code == code


def test_tokens_are_stored_only_as_hashes(auth):
    _, token = auth
    assert token not in token_hash(token) and len(token_hash(token)) == 64


def test_admin_token_may_come_from_a_function_read_per_request(auth):
    current = ["first"]
    authenticator = Authenticator(auth[0].docs, lambda: current[0])
    assert authenticator.authenticate("Bearer first").is_admin
    current[0] = "second"                       # rotated (SSM, after powertools' cache)
    assert authenticator.authenticate("Bearer second").is_admin
    with pytest.raises(Unauthorized):
        authenticator.authenticate("Bearer first")


def test_unreadable_admin_token_is_a_503_for_the_admin_only(auth):
    from chalicelib.errors import StorageUnavailable

    _, token = auth

    def broken():
        raise RuntimeError("ssm unreachable")
    authenticator = Authenticator(auth[0].docs, broken)
    with pytest.raises(StorageUnavailable):
        authenticator.authenticate("Bearer the-admin-token")
    assert authenticator.authenticate(f"Bearer {token}").service_name == "orders"
