"""Logins past LOGIN_RATE_LIMIT get a 429, counted per client IP as our proxy saw it."""

import pytest
from django.conf import settings

from .factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = f"/{settings.ADMIN_URL}login/"


@pytest.fixture(autouse=True)
def three_attempts_a_minute(settings):
    settings.LOGIN_RATE_LIMIT = "3/min"


def attempt(client, client_ip, username="admin", password="wrong", **headers):  # noqa: S107
    return client.post(
        LOGIN_URL,
        {"username": username, "password": password},
        REMOTE_ADDR="10.0.0.1",
        headers={"X-Forwarded-For": client_ip, **headers},
    )


def test_attempts_within_the_limit_get_the_login_form_again(client):
    for _ in range(3):
        assert attempt(client, "203.0.113.7").status_code == 200


def test_an_attempt_past_the_limit_is_refused_with_429_and_retry_after(client):
    for _ in range(3):
        attempt(client, "203.0.113.7")
    response = attempt(client, "203.0.113.7")
    assert response.status_code == 429
    assert response["Retry-After"] == "60"


def test_the_right_password_past_the_limit_is_refused_too(client):
    user = UserFactory.create(is_staff=True)
    for _ in range(3):
        attempt(client, "203.0.113.7")
    response = attempt(client, "203.0.113.7", username=user.username, password=PASSWORD)
    assert response.status_code == 429


def test_other_clients_keep_their_own_count(client):
    for _ in range(4):
        attempt(client, "203.0.113.7")
    assert attempt(client, "198.51.100.9").status_code == 200


def test_a_forwarded_for_entry_made_up_by_the_client_does_not_reset_the_count(client):
    for _ in range(3):
        attempt(client, "203.0.113.7")
    # The client sent "X-Forwarded-For: 192.0.2.1"; our proxy appended the address it saw.
    assert attempt(client, "192.0.2.1, 203.0.113.7").status_code == 429


def test_the_login_page_itself_is_never_limited(client):
    for _ in range(4):
        attempt(client, "203.0.113.7")
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    response = client.get(LOGIN_URL, REMOTE_ADDR="10.0.0.1", headers=forwarded)
    assert response.status_code == 200
