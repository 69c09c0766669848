"""Login slow-down: failures count per (account, client address); a client that keeps
failing waits a little longer each time; the owner at another address is never held up."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.support.processes import wait_for
from tests.support.settings import farm_setting
from tests.web.conftest import PASSWORD

ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"
# Waits no loaded machine outlasts between two requests, so "it waits" is never a race.
LONG_WAITS = {"login_free_failures": 3, "login_first_delay_s": 600.0, "login_max_delay_s": 3600.0}


def client_at(app, address: str):
    """A test client whose requests come from `address`."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def login(client, email: str, password: str = PASSWORD):
    return client.post("/auth/login", json={"email": email, "password": password})


@pytest.fixture
def throttle_config(app):
    """Set login throttle settings for one test (reset after it)."""
    with ExitStack() as stack:

        def configure(**values):
            for name, value in values.items():
                stack.enter_context(farm_setting(app, name, value))

        yield configure


def test_a_strangers_wrong_passwords_never_keep_the_owner_out(app, world, throttle_config):
    throttle_config(login_first_delay_s=600.0, login_max_delay_s=3600.0)
    email = world.users["operator"].email
    attacker = client_at(app, ATTACKER)
    codes = [login(attacker, email, f"guess {n}").status_code for n in range(30)]
    assert login(client_at(app, OWNER), email).status_code == 200
    # The attacker is slowed down: its free failures, one more that claims the wait, then 429s.
    assert codes[:6] == [401] * 6 and set(codes[6:]) == {429}
    assert login(attacker, email).status_code == 429  # this client failed: it waits too


def test_every_spelling_of_an_email_counts_against_the_account(app, world, throttle_config):
    throttle_config(**LONG_WAITS)
    email = world.users["owner"].email
    attacker = client_at(app, ATTACKER)
    spellings = [email.upper(), f"  {email}  ", email.title(), f"\t{email.upper()}\n"]
    assert [login(attacker, e, "bad").status_code for e in spellings] == [401] * 4
    assert login(attacker, email, "bad").status_code == 429


def test_the_wait_ends_and_the_client_may_try_again(app, world, throttle_config):
    throttle_config(login_free_failures=3, login_first_delay_s=0.2, login_max_delay_s=1.0)
    email = world.users["owner"].email
    attacker = client_at(app, ATTACKER)
    codes = [login(attacker, email, "bad").status_code for _ in range(4)]
    assert codes == [401] * 4
    wait_for(
        lambda: login(attacker, email).status_code == 200,
        30,
        what="the slowed-down client to be let in again",
    )


def test_one_address_failing_across_many_accounts_is_slowed_down(app, world, throttle_config):
    throttle_config(**LONG_WAITS, login_addr_free_failures=4)
    sprayer = client_at(app, ATTACKER)
    codes = [login(sprayer, f"nobody{n}@example.com", "x").status_code for n in range(6)]
    assert codes == [401] * 5 + [429]
    assert login(client_at(app, OWNER), world.users["owner"].email).status_code == 200


def test_an_ipv6_client_counts_as_its_whole_64(app, world, throttle_config):
    throttle_config(**LONG_WAITS)
    email = world.users["owner"].email
    for n in range(4):
        assert login(client_at(app, f"2001:db8:1:2::{n + 1}"), email, "bad").status_code == 401
    assert login(client_at(app, "2001:db8:1:2::99"), email, "bad").status_code == 429
    assert login(client_at(app, "2001:db8:1:3::1"), email).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_client_counts(settings, world, throttle_config):
    from web import create_app

    proxied = create_app(settings.with_overrides(trusted_proxies=1))
    throttle_config(**LONG_WAITS)
    email = world.users["owner"].email
    via_proxy = proxied.test_client()
    via_proxy.environ_base["REMOTE_ADDR"] = "127.0.0.1"

    def attempt(forwarded_for: str, password: str = "bad"):
        return via_proxy.post(
            "/auth/login",
            json={"email": email, "password": password},
            headers={"X-Forwarded-For": forwarded_for},
        )

    assert [attempt(ATTACKER).status_code for _ in range(5)] == [401] * 4 + [429]
    assert attempt(OWNER, PASSWORD).status_code == 200
