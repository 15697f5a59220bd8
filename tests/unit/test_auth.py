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
