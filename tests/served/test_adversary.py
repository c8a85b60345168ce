"""An attacker's run against the app as production serves it: gunicorn, production settings,
behind a TLS-terminating proxy, on a database of its own with the seed.

Every request is hostile or probing: injection and script in every query parameter of every
list, writes by roles that may not write and by forged credentials, mass assignment, broken
rules, bodies that are too large, too deep or not JSON. The run passes when no request is a
server error, every hostile write is refused with a 4xx, and the database holds exactly what
the accepted writes wrote: nothing lost, nothing silently changed.

It writes its figures to var/adversary.json (the README quotes a run). Bounded: a fixed list
of requests, each with a timeout.
"""

import json
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from recommendations.roles import ANALYST, VIEWER
from tests.serving import (
    ROOT,
    AppServer,
    clean_environment,
    create_users,
    gunicorn_command,
    manage,
    seeded_database,
)

pytestmark = pytest.mark.served

TIMEOUT = 30
USERS = {"adv-analyst": ANALYST, "adv-viewer": VIEWER}
LISTS = (
    "pillars",
    "measures",
    "status-updates",
    "risks",
    "scenarios",
    "innovation-mechanisms",
    "institutions",
    "reports",
    "sources",
    "evidence",
)
PARAMETERS = (
    "search",
    "ordering",
    "status",
    "pillar",
    "measure",
    "risk",
    "as_of",
    "updated_since",
    "since",
    "p",
    "page",
    "page_size",
    "stance",
    "code__regex",
)
PAYLOADS = (
    "' OR '1'='1",
    "1; DROP TABLE recommendations_measure; --",
    "1) UNION SELECT password FROM auth_user --",
    "\x00",
    "%00",
    "<script>alert(1)</script>",
    "{{7*7}}${7*7}",
    "../../../../etc/passwd",
    "9" * 40,
    "-1",
    "2026-13-45",
    "ñ" * 5000,
    " ".join(["word"] * 1000),
    "\u202e\u0000\ud7ff",
)


@dataclass
class Ledger:
    """What was tried and how the app answered."""

    tried: int = 0
    by_status: Counter = field(default_factory=Counter)
    server_errors: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    hostile_writes: int = 0
    accepted_writes: int = 0

    def note(self, label: str, response: requests.Response, allowed: set[int]) -> None:
        self.tried += 1
        self.by_status[response.status_code] += 1
        if response.status_code >= 500:
            self.server_errors.append((label, response.status_code, response.text[:200]))
        elif response.status_code not in allowed:
            self.unexpected.append((label, response.status_code, response.text[:200]))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adversary")
    database = seeded_database(f"adversary_{os.getpid()}", folder)
    environment = clean_environment(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        BEHIND_TLS_PROXY="1",
        DATABASE_URL=database.url,
        # Every probe should reach the app: throttling (tests/recommendations/test_api.py)
        # would otherwise refuse most of them with a 429.
        API_THROTTLE_USER="100000/minute",
    )
    server = AppServer(gunicorn_command, environment, folder / "gunicorn.log")
    try:
        tokens = create_users(environment, USERS)
        # A signed-up account nobody gave a role: it may read nothing.
        manage(
            environment,
            "shell",
            "-c",
            "from django.contrib.auth.models import User\n"
            "User.objects.create_user('adv-nobody', password=None)",
        )
        tokens["adv-nobody"] = (
            manage(environment, "create_api_token", "adv-nobody").strip().splitlines()[-1]
        )
        server.start()
        session = requests.Session()
        session.headers["X-Forwarded-Proto"] = "https"

        def answers() -> bool:
            try:
                return session.get(
                    server.base_url + "/api/v1/scenarios/",
                    headers={"Authorization": f"Token {tokens['adv-viewer']}"},
                    timeout=3,
                ).ok
            except requests.RequestException:
                return False

        assert server.wait_until(answers, seconds=60), server.log_tail()
        yield server, session, tokens, database
    finally:
        server.stop()
        database.drop()


def state(database) -> dict:
    """What people wrote: every measure's fields and version, every history entry, every
    piece of evidence."""
    return {
        "measures": database.rows(
            "SELECT code, title_zh, title_en, description_en, status, progress, version, "
            "archived FROM recommendations_measure ORDER BY code"
        ),
        "history": database.rows(
            "SELECT id, measure_id, status, progress, effective_date, note "
            "FROM recommendations_statusupdate ORDER BY id"
        ),
        "evidence": database.rows(
            "SELECT id, claim_zh, claim_en, version FROM evidence_evidence ORDER BY id"
        ),
        "users": database.rows("SELECT username, is_superuser, is_staff FROM auth_user"),
    }


def test_an_attackers_run_finds_no_server_error_and_loses_nothing(app):
    server, session, tokens, database = app
    base = server.base_url + "/api/v1/"
    analyst = {"Authorization": f"Token {tokens['adv-analyst']}"}
    viewer = {"Authorization": f"Token {tokens['adv-viewer']}"}
    ledger = Ledger()

    def call(label, method, path, allowed, headers=None, **kwargs):
        response = session.request(
            method, base + path, headers=headers or {}, timeout=TIMEOUT, **kwargs
        )
        ledger.note(label, response, allowed)
        return response

    before = state(database)
    measure_id = database.value("SELECT id FROM recommendations_measure WHERE code = '3.2'")

    # Probing reads: every payload in every parameter of every list, as a viewer.
    for path in LISTS:
        for name in PARAMETERS:
            for payload in PAYLOADS:
                response = call(
                    f"GET {path}?{name}",
                    "GET",
                    f"{path}/",
                    # 414: gunicorn refuses a request line over 4 KiB before the app sees it.
                    {200, 400, 404, 414},
                    viewer,
                    params={name: payload},
                )
                if response.status_code == 200:
                    assert response.headers["Content-Type"].startswith("application/json")

    # Reads by an account with no role, and by nobody.
    nobody = {"Authorization": f"Token {tokens['adv-nobody']}"}
    for path in LISTS:
        call(f"GET {path} without a role", "GET", f"{path}/", {403}, nobody)
        call(f"GET {path} anonymously", "GET", f"{path}/", {401}, {})
    call("schema without a role", "GET", "../schema/", {403}, nobody)
    call("schema anonymously", "GET", "../schema/", {401}, {})

    # Writes by those who may not write, or with forged credentials.
    update = {"status": "planned", "progress": 10, "effective_date": "2026-01-10"}
    forged = {"Authorization": "Token " + "0" * 40}
    for label, headers, allowed in (
        ("anonymous write", {}, {401}),
        ("viewer write", viewer, {403}),
        ("write without a role", nobody, {403}),
        ("forged token", forged, {401}),
        ("malformed token", {"Authorization": "Token a b c"}, {401}),
        ("basic auth guess", {"Authorization": "Basic YWRtaW46YWRtaW4="}, {401}),
    ):
        ledger.hostile_writes += 1
        call(label, "POST", f"measures/{measure_id}/status-updates/", allowed, headers, json=update)
        ledger.hostile_writes += 1
        call(label, "PATCH", f"measures/{measure_id}/", allowed, headers, json={"title_en": "x"})

    # Mass assignment and broken rules, as an analyst: each refused, nothing written.
    for label, method, path, body in (
        ("set status directly", "PATCH", f"measures/{measure_id}/", {"status": "implemented"}),
        ("set progress directly", "PATCH", f"measures/{measure_id}/", {"progress": 100}),
        ("set version", "PATCH", f"measures/{measure_id}/", {"version": 99}),
        ("set id", "PATCH", f"measures/{measure_id}/", {"id": 1}),
        (
            "implemented without evidence",
            "POST",
            f"measures/{measure_id}/status-updates/",
            {"status": "implemented", "progress": 100, "effective_date": "2026-01-10"},
        ),
        (
            "progress over 100",
            "POST",
            f"measures/{measure_id}/status-updates/",
            {"status": "in_progress", "progress": 150, "effective_date": "2026-01-10"},
        ),
        (
            "in the future",
            "POST",
            f"measures/{measure_id}/status-updates/",
            {"status": "planned", "progress": 10, "effective_date": "2999-01-01"},
        ),
        (
            "before history began",
            "POST",
            f"measures/{measure_id}/status-updates/",
            {"status": "planned", "progress": 10, "effective_date": "1900-01-01"},
        ),
        (
            "null character",
            "POST",
            f"measures/{measure_id}/status-updates/",
            {**update, "note": "a\x00b"},
        ),
        (
            "recorded_by forged",
            "POST",
            f"measures/{measure_id}/status-updates/",
            {**update, "recorded_by": 1, "recorded_at": "2020-01-01T00:00:00Z"},
        ),
        (
            "deep nesting",
            "POST",
            f"measures/{measure_id}/status-updates/",
            json.loads("[" * 500 + "]" * 500),
        ),
        (
            "evidence of another source",
            "POST",
            "evidence/",
            {"source": 999999, "claim_zh": "x", "claim_en": "x"},
        ),
    ):
        ledger.hostile_writes += 1
        call(label, method, path, {400, 404, 412, 415, 428}, analyst, json=body)
    for label, data, content_type in (
        ("not JSON", b"status=planned", "application/json"),
        ("form encoded", b"status=planned", "application/x-www-form-urlencoded"),
        ("3 MB body", b'{"note": "' + b"x" * 3_000_000 + b'"}', "application/json"),
        ("invalid UTF-8", b'{"note": "\xff\xfe"}', "application/json"),
    ):
        ledger.hostile_writes += 1
        call(
            label,
            "POST",
            f"measures/{measure_id}/status-updates/",
            {400, 413, 415},
            {**analyst, "Content-Type": content_type},
            data=data,
        )

    # Two writes an analyst may make, carrying script: stored as written, served as data.
    accepted = call(
        "note with script",
        "POST",
        f"measures/{measure_id}/status-updates/",
        {201},
        analyst,
        json={**update, "note": "<script>alert(1)</script>\n## heading"},
    )
    ledger.accepted_writes += 1
    after = state(database)

    figures = {
        "requests": ledger.tried,
        "refused_4xx": sum(n for code, n in ledger.by_status.items() if 400 <= code < 500),
        "answered_2xx": sum(n for code, n in ledger.by_status.items() if 200 <= code < 300),
        "server_errors": len(ledger.server_errors),
        "hostile_writes": ledger.hostile_writes,
        "accepted_writes": ledger.accepted_writes,
        "by_status": dict(sorted(ledger.by_status.items())),
    }
    out = Path(ROOT) / "var" / "adversary.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))

    assert ledger.server_errors == [], server.log_tail()
    assert ledger.unexpected == []
    assert accepted.status_code == 201
    # Nothing lost or changed but the one accepted entry, stored exactly as written.
    others = [row for row in before["measures"] if row[0] != "3.2"]
    assert [row for row in after["measures"] if row[0] != "3.2"] == others
    assert {row[:4] for row in after["measures"]} == {row[:4] for row in before["measures"]}
    assert after["history"][: len(before["history"])] == before["history"]
    new = after["history"][len(before["history"]) :]
    assert [(row[2], row[5]) for row in new] == [
        ("planned", "<script>alert(1)</script>\n## heading")
    ]
    assert after["evidence"] == before["evidence"]
    assert after["users"] == before["users"]
    assert server.server_errors() == []
