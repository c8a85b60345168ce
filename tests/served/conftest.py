"""The app served for real, two ways, each with a throwaway database of its own: Django's
development server as `make run` starts it (DEBUG=1), and gunicorn with production settings
behind a TLS-terminating proxy (every request says `X-Forwarded-Proto: https`, as the proxy
would). The database is a fresh PostgreSQL database when DATABASE_URL is postgres://, a
SQLite file otherwise.

`served.call(...)` sends one request and checks its answer: no server error, a Location on
every 201, and (OPENAPI_STRICT, tests/openapi_validation.py) a status, media type, headers and
body that the schema this server serves declares. It records which operation of the schema it
exercised, for the test that every operation was.
"""

import os
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import requests

from recommendations.roles import ANALYST, REPORTER, VIEWER
from tests.openapi_validation import ResponseChecker, strict
from tests.serving import (
    AppServer,
    clean_environment,
    create_users,
    development_environment,
    gunicorn_command,
    manage,
    runserver_command,
    seeded_database,
)

SERVERS = ("runserver", "gunicorn")
USERS = {
    "served-analyst": ANALYST,
    "served-viewer": VIEWER,
    "served-reporter": REPORTER,
    "served-admin": None,  # a superuser: manages webhooks
}
ANALYST_USER, VIEWER_USER, REPORTER_USER, ADMIN_USER = USERS
TIMEOUT = 30  # seconds for one request; a report preview of the seed takes well under one
# The test that checks every operation was exercised runs after every other test of its server.
COVERAGE_TEST = "test_every_operation_of_the_schema_was_exercised"
# Server kind -> the (path template, method) of the schema called through it in this session
# (kept across a restart of the server's fixture).
EXERCISED: dict[str, set] = {kind: set() for kind in SERVERS}


@dataclass
class Served:
    kind: str
    server: AppServer
    tokens: dict
    headers: dict  # sent with every request
    scheme: str  # of the links the app writes (https behind the proxy)
    checker: ResponseChecker | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def schema(self) -> dict:
        return self.checker.schema

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def local_path(self, link: str) -> str:
        """The path and query of a link the app wrote, once it is checked to point here."""
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc) == (self.scheme, f"127.0.0.1:{self.server.port}"), (
            f"{link} does not point at this server"
        )
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = ANALYST_USER,
        params=None,
        json=None,
        files=None,
        headers: dict | None = None,
        check: bool = True,
    ) -> requests.Response:
        """One request as `user` (None: no credentials); `path` may be a link the app wrote;
        `files` sends a multipart body."""
        if path.startswith("http"):
            path = self.local_path(path)
        sent = dict(self.headers)
        if user:
            sent["Authorization"] = f"Token {self.tokens[user]}"
        sent.update(headers or {})
        response = self.session.request(
            method,
            self.url(path),
            params=params,
            json=json,
            files=files,
            headers=sent,
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        if check:
            self.check(method, response)
        return response

    def check(self, method: str, response: requests.Response) -> None:
        path = urlsplit(response.url).path
        described = f"{method} {response.url} ({self.kind})"
        assert response.status_code < 500, (
            f"{described} answered {response.status_code}:\n{response.text[:1000]}\n"
            f"server log:\n{self.server.log_tail()}"
        )
        if response.status_code == 201:
            assert response.headers.get("Location"), f"{described}: a 201 without Location"
        if self.checker is None:
            return
        operation = self.checker.operation(method, path)
        if operation:
            EXERCISED[self.kind].add(operation)
        if operation and strict():
            self.checker.check(
                method,
                response.url,
                response.status_code,
                dict(response.headers),
                response.content,
            )


def environment(kind: str, database_url: str) -> dict:
    if kind == "runserver":
        return development_environment(database_url)
    # Production settings, behind a proxy that terminates TLS.
    return clean_environment(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        BEHIND_TLS_PROXY="1",
        DATABASE_URL=database_url,
    )


@pytest.fixture(scope="session", params=SERVERS)
def served(request, tmp_path_factory):
    """The app served by `runserver` or gunicorn on a free loopback port, on a database of its
    own with the seed, a published report, an analyst, a viewer, a reporter and a superuser (and
    their API tokens)."""
    kind = request.param
    folder = tmp_path_factory.mktemp(f"served-{kind}")
    database = seeded_database(f"served_{kind}_{os.getpid()}", folder)
    env = environment(kind, database.url)
    command = runserver_command if kind == "runserver" else gunicorn_command
    server = AppServer(command, env, folder / f"{kind}.log")
    try:
        tokens = create_users(env, USERS)
        manage(env, "status_report", "--period", "year", "--save", "--output", os.devnull)
        served = Served(
            kind=kind,
            server=server.start(),
            tokens=tokens,
            headers={"X-Forwarded-Proto": "https"} if kind == "gunicorn" else {},
            scheme="https" if kind == "gunicorn" else "http",
        )

        def answers() -> bool:
            try:
                return served.call("GET", "/api/v1/scenarios/", check=False).status_code == 200
            except requests.RequestException:
                return False

        assert server.wait_until(answers, seconds=60), (
            f"{kind} did not serve within 60 s:\n{server.log_tail()}"
        )
        schema = served.call("GET", "/api/schema/", params={"format": "json"})
        assert schema.status_code == 200, schema.text[:500]
        served.checker = ResponseChecker(schema.json())
        yield served
    finally:
        server.stop()
        database.drop()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    # After pytest has grouped the tests by server: the coverage test of each server last
    # among that server's tests.
    last = {}
    for index, item in enumerate(items):
        kind = served_kind(item)
        if kind:
            last[kind] = index
    order = {
        id(item): last[served_kind(item)] + 0.5
        if getattr(item, "originalname", "") == COVERAGE_TEST and served_kind(item)
        else index
        for index, item in enumerate(items)
    }
    items.sort(key=lambda item: order[id(item)])


def served_kind(item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("served") if callspec else None
