"""Callback URL policy (SSRF) and the retry schedule."""
import random

import pytest

from chalicelib.delivery.callbacks import CallbackNotAllowed, CallbackPolicy, parse_allow_list
from chalicelib.delivery.retry import Backoff, retry_after_seconds


def resolver(table):
    return lambda host, port: table[host]


@pytest.mark.parametrize("url, reason", [
    ("http://169.254.169.254/latest", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://10.0.0.1/", "private"),
    ("http://192.168.1.10/", "private"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://100.64.1.1/", "CGNAT"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://rebound.example/", "loopback"),
])
def test_internal_addresses_are_refused(url, reason):
    policy = CallbackPolicy(resolver=resolver({"rebound.example": ["93.184.216.34",
                                                                   "127.0.0.1"]}))
    with pytest.raises(CallbackNotAllowed) as caught:
        policy.check(url)
    assert reason in caught.value.detail


def test_public_host_is_allowed_and_pinned_to_the_checked_address():
    policy = CallbackPolicy(resolver=resolver({"hooks.example": ["93.184.216.34"]}))
    target = policy.check("https://hooks.example/in?x=1")
    assert (target.address, target.port, target.host, target.path) == \
        ("93.184.216.34", 443, "hooks.example", "/in?x=1")


def test_allow_list_admits_an_internal_network():
    policy = CallbackPolicy(parse_allow_list("127.0.0.0/8, ::1/128"))
    assert policy.check("http://127.0.0.1:8080/hook").port == 8080


@pytest.mark.parametrize("url", ["ftp://x.example/", "http://user:pw@x.example/",
                                 "http:///nohost", "http://x.example/#frag", 42, "",
                                 "http://x.example:99999/"])
def test_malformed_callbacks_are_refused(url):
    with pytest.raises(CallbackNotAllowed):
        CallbackPolicy(resolver=resolver({"x.example": ["93.184.216.34"]})).check(url)


def test_unresolvable_host_is_refused():
    def fail(host, port):
        raise OSError("no such host")
    with pytest.raises(CallbackNotAllowed):
        CallbackPolicy(resolver=fail).check("http://nowhere.example/")


def test_backoff_ceilings_double_up_to_the_cap_with_full_jitter():
    backoff = Backoff(base=5, cap=3600)
    assert [backoff.ceiling(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff.ceiling(30) == 3600
    rng = random.Random(1)
    delays = [backoff.delay(4, rng) for _ in range(1000)]
    assert min(delays) >= 1.0 and max(delays) <= 40 and len(set(delays)) > 900


def test_retry_after_accepts_seconds_and_http_dates_and_is_capped():
    assert retry_after_seconds("120", now=0, cap=3600) == 120
    assert retry_after_seconds("999999", now=0, cap=3600) == 3600
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:00 GMT", now=0, cap=3600) == 60
    assert retry_after_seconds("soon", now=0, cap=3600) is None
    assert retry_after_seconds(None, now=0, cap=3600) is None
