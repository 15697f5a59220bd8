"""Webhook signatures: the key each kind of secret signs with, and rotation's two signatures."""
import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.delivery.signing import (
    check_secret, new_secret, signed_headers, signing_key,
)
from chalicelib.errors import ValidationFailed

BODY = b'{"specversion":"1.0","id":"e1","data":{"euro":"\xe2\x82\xac"}}'


def test_a_generated_secret_is_a_standard_webhooks_secret_of_32_random_bytes():
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first[len("whsec_"):], validate=True)) == 32


def test_a_generated_secret_verifies_with_webhook_of_the_secret_itself():
    secret = new_secret()
    headers = signed_headers(secret, "e1", BODY, time.time())
    assert Webhook(secret).verify(BODY, headers)["id"] == "e1"
    key = base64.b64decode(secret[len("whsec_"):])
    assert headers["X-Hub-Signature"] == "sha256=" + hmac.new(key, BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("secret", ["s3cr3t", "whsec-at-most-200-chars", "whsec_not base64!", "€uro"])
def test_a_chosen_secret_signs_with_its_utf8_bytes_as_before(secret):
    headers = signed_headers(secret, "e1", BODY, time.time())
    Webhook(base64.b64encode(secret.encode()).decode()).verify(BODY, headers)
    assert signing_key(secret) == secret.encode()
    assert headers["X-Hub-Signature"] == \
        "sha256=" + hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()


def test_during_an_overlap_both_secrets_sign_and_x_hub_signature_uses_the_newest():
    new, old = new_secret(), "the-old-one"
    headers = signed_headers([new, old], "e1", BODY, time.time())
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(base64.b64encode(old.encode()).decode()).verify(BODY, headers)
    assert headers["X-Hub-Signature"] == signed_headers(new, "e1", BODY, 0)["X-Hub-Signature"]
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_no_secret_means_no_signature_headers():
    assert signed_headers(None, "e1", BODY, 0) == {} == signed_headers([], "e1", BODY, 0)


def test_a_secret_may_have_200_utf8_bytes_not_200_characters():
    check_secret("a" * 200, "secret")
    check_secret("€" * 66, "secret")                     # 198 bytes
    check_secret(None, "secret")
    for too_long in ("a" * 201, "€" * 67, "€" * 100):
        with pytest.raises(ValidationFailed) as caught:
            check_secret(too_long, "hub.secret")
        assert caught.value.extra["errors"][0]["field"] == "hub.secret"
