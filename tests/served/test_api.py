"""Every operation of the served schema, over HTTP, through runserver and through gunicorn.

In-process tests never cross a real WSGI server, so they missed that a 201's Location (DRF's
Hyperlink, a str subclass) made both servers answer 500 after the write. Here every answer is
checked by `served.call`: no 5xx, a Location on each 201, and a status, media type, headers and
body the served schema declares (tests/openapi_validation.py).
"""

import uuid

import pytest

from tests.served.conftest import ADMIN_USER, EXERCISED, REPORTER_USER, VIEWER_USER

pytestmark = pytest.mark.served

MEASURES = "/api/v1/measures/"
FEED = "/api/v1/status-updates/"
LISTS = (
    "/api/v1/pillars/",
    "/api/v1/measures/",
    "/api/v1/risks/",
    "/api/v1/scenarios/",
    "/api/v1/innovation-mechanisms/",
    "/api/v1/institutions/",
    "/api/v1/evidence/",
    "/api/v1/sources/",
    "/api/v1/reports/",
    "/api/v1/status-updates/",
)
FORMATS = {
    "json": "application/json",
    "markdown": "text/markdown",
    "csv": "text/csv",
    "html": "text/html",
}


def rows(body) -> list:
    return body["results"] if isinstance(body, dict) else body


def measure_id(served, code: str) -> int:
    response = served.call("GET", MEASURES, params={"search": code, "page_size": 50})
    [measure] = [m for m in response.json()["results"] if m["code"] == code]
    return measure["id"]


def record(served, measure: int, *, etag: str, key: str, progress: int = 30, note: str = "x"):
    return served.call(
        "POST",
        f"{MEASURES}{measure}/status-updates/",
        json={
            "status": "in_progress",
            "progress": progress,
            "effective_date": "2026-01-15",
            "confidence": "medium",
            "note": note,
            "evidence": [],
        },
        headers={"If-Match": etag, "Idempotency-Key": key},
    )


# Reads


@pytest.mark.parametrize("path", LISTS)
def test_every_list_and_a_detail_of_it_are_served(served, path):
    listed = served.call("GET", path)
    assert listed.status_code == 200, listed.text[:500]
    first = rows(listed.json())[0]

    detail = served.call("GET", f"{path}{first['id']}/")

    assert detail.status_code == 200
    assert detail.json()["id"] == first["id"]


def test_measures_filter_by_pillar_status_and_risk_and_order(served):
    response = served.call(
        "GET",
        MEASURES,
        params={
            "pillar": 3,
            "status": ["not_assessed", "in_progress"],
            "risk": "data_security",
            "ordering": "-code",
        },
    )

    assert response.status_code == 200
    found = response.json()["results"]
    assert found and all(m["pillar"] == 3 for m in found)
    assert all("data_security" in {r["key"] for r in m["risks"]} for m in found)
    assert [m["code"] for m in found] == sorted((m["code"] for m in found), reverse=True)


def test_evidence_filters_by_measure_and_stance(served):
    response = served.call("GET", "/api/v1/evidence/", params={"measure": "3.2"})

    assert response.status_code == 200
    found = response.json()["results"]
    assert found
    assert all("3.2" in {link["measure"] for link in e["measures"]} for e in found)


def test_sources_and_feed_filter(served):
    sources = served.call("GET", "/api/v1/sources/", params={"kind": "academic_study"}).json()
    feed = served.call("GET", FEED, params={"measure": "1.1"}).json()

    assert sources["results"]
    assert all(source["kind"] == "academic_study" for source in sources["results"])
    assert feed["results"] and all(u["measure_code"] == "1.1" for u in feed["results"])


def test_the_audit_trail_shows_what_the_seed_loaded(served):
    measure = measure_id(served, "1.1")

    response = served.call(
        "GET",
        "/api/v1/changes/",
        params={"model": "recommendations.measure", "object_id": measure, "page_size": 5},
    )

    assert response.status_code == 200, response.text[:500]
    first = response.json()["results"][0]
    assert (first["action"], first["channel"], first["via"]) == ("create", "command", "load_seed")


def test_as_of_the_publication_date_every_measure_is_not_assessed(served):
    listed = served.call("GET", MEASURES, params={"as_of": "2025-04-15", "page_size": 100})
    one = served.call(
        "GET", f"{MEASURES}{measure_id(served, '1.1')}/", params={"as_of": "2025-04-15"}
    )

    assert listed.status_code == 200
    assert {m["status"] for m in listed.json()["results"]} == {"not_assessed"}
    assert one.json()["as_of"] == "2025-04-15"
    assert one.json()["status"] == "not_assessed"


def test_a_measures_history_is_served(served):
    response = served.call("GET", f"{MEASURES}{measure_id(served, '1.2')}/status-updates/")

    assert response.status_code == 200
    assert response.json()["results"][-1]["status"] == "not_assessed"


def test_a_measures_history_is_followed_by_cursor_to_its_first_entry(served):
    path = f"{MEASURES}{measure_id(served, '1.2')}/status-updates/"
    pages = [served.call("GET", path, params={"page_size": 1})]
    while pages[-1].json()["next"]:
        pages.append(served.call("GET", pages[-1].json()["next"]))

    assert pages[-1].json()["results"][-1]["status"] == "not_assessed"
    assert len(pages) == len(served.call("GET", path).json()["results"])


def test_a_piece_of_evidences_revisions_are_served(served):
    piece = served.call("GET", "/api/v1/evidence/").json()["results"][0]
    path = f"/api/v1/evidence/{piece['id']}/revisions/"

    listed = served.call("GET", path)
    revision = served.call("GET", f"{path}{piece['version']}/")

    assert listed.status_code == revision.status_code == 200
    assert revision.json()["version"] == piece["version"]


@pytest.mark.parametrize("path", [FEED, MEASURES, "/api/v1/evidence/"])
def test_an_unchanged_read_is_a_304_over_http(served, path):
    first = served.call("GET", path)

    again = served.call("GET", path, headers={"If-None-Match": first.headers["ETag"]})

    assert again.status_code == 304
    assert (again.content, again.headers["ETag"]) == (b"", first.headers["ETag"])


def test_the_feed_is_followed_to_its_end_and_resumed_to_exactly_the_new_row(served):
    seen, page, pages = [], served.call("GET", FEED, params={"page_size": 4}).json(), 1
    while page["next"] and pages < 100:
        seen += [u["id"] for u in page["results"]]
        page, pages = served.call("GET", page["next"]).json(), pages + 1
    seen += [u["id"] for u in page["results"]]
    resume = page["resume"]
    measure = measure_id(served, "2.1")
    etag = served.call("GET", f"{MEASURES}{measure}/").headers["ETag"]

    created = record(served, measure, etag=etag, key=uuid.uuid4().hex)
    resumed = served.call("GET", resume).json()

    assert len(seen) == len(set(seen)) >= 15  # the seed's first entries, no row twice
    assert created.status_code == 201, created.text
    assert [u["id"] for u in resumed["results"]] == [created.json()["id"]]


# Writes


def test_a_status_update_is_recorded_replayed_and_a_stale_one_refused(served):
    measure = measure_id(served, "3.2")
    before = served.call("GET", f"{MEASURES}{measure}/")
    key = uuid.uuid4().hex

    created = record(served, measure, etag=before.headers["ETag"], key=key, note="pilot")
    replayed = record(served, measure, etag=before.headers["ETag"], key=key, note="pilot")
    stale = record(served, measure, etag=before.headers["ETag"], key=uuid.uuid4().hex)
    located = served.call("GET", created.headers["Location"])

    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == f'"{before.json()["version"] + 1}"'
    assert located.status_code == 200
    assert located.json()["id"] == created.json()["id"]
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == created.json()
    assert stale.status_code == 412
    assert stale.json()["current_version"] == before.json()["version"] + 1


def test_a_measure_is_patched_with_if_match(served):
    measure = measure_id(served, "4.1")
    etag = served.call("GET", f"{MEASURES}{measure}/").headers["ETag"]

    patched = served.call(
        "PATCH",
        f"{MEASURES}{measure}/",
        json={"priority": "high", "target_date": "2027-06-30"},
        headers={"If-Match": etag},
    )

    assert patched.status_code == 200, patched.text
    assert (patched.json()["priority"], patched.json()["target_date"]) == ("high", "2027-06-30")
    assert patched.headers["ETag"] != etag


def test_a_source_is_created_replaced_and_patched(served):
    key = f"served-{uuid.uuid4().hex[:8]}"
    created = served.call(
        "POST",
        "/api/v1/sources/",
        json={
            "key": key,
            "kind": "technical_report",
            "title": "AI in banking",
            "year": 2024,
            "reliability": "high",
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]

    replaced = served.call(
        "PUT", location, json={"kind": "survey", "title": "New title", "reliability": "medium"}
    )
    patched = served.call("PATCH", location, json={"year": 2025})
    read = served.call("GET", location)

    assert replaced.status_code == 200, replaced.text
    assert patched.status_code == 200, patched.text
    assert (read.json()["key"], read.json()["title"], read.json()["year"]) == (
        key,
        "New title",
        2025,
    )


def test_evidence_is_created_with_figures_replaced_and_patched(served):
    source = served.call("GET", "/api/v1/sources/").json()["results"][0]["id"]
    created = served.call(
        "POST",
        "/api/v1/evidence/",
        json={
            "source": source,
            "attribution": "cited",
            "claim_zh": "试点",
            "claim_en": "A pilot",
            "figures": [
                {
                    "value": "12",
                    "unit": "%",
                    "qualifier": "exact",
                    "measures_zh": "份额",
                    "measures_en": "share",
                }
            ],
            "measures": [{"measure": "3.2", "stance": "supports"}],
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]

    replaced = served.call(
        "PUT",
        location,
        json={"source": source, "claim_zh": "新", "claim_en": "New claim", "figures": []},
    )
    patched = served.call("PATCH", location, json={"claim_en": "Patched claim"})
    read = served.call("GET", location)

    assert created.json()["figures"][0]["value"].startswith("12")
    assert replaced.status_code == 200, replaced.text
    assert patched.status_code == 200, patched.text
    assert (read.json()["claim_en"], read.json()["figures"]) == ("Patched claim", [])


# Review


def propose(served, measure: int, *, progress: int, day: str):
    return served.call(
        "POST",
        f"{MEASURES}{measure}/status-updates/",
        user=REPORTER_USER,
        json={
            "status": "in_progress",
            "progress": progress,
            "effective_date": day,
            "confidence": "medium",
            "note": "Reported by the institution",
            "evidence": [],
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


def test_a_reporters_update_is_proposed_revised_and_approved(served):
    measure = measure_id(served, "5.2")

    proposed = propose(served, measure, progress=30, day="2026-01-20")
    location = proposed.headers["Location"]
    read = served.call("GET", location, user=REPORTER_USER)
    requested = served.call(
        "POST",
        f"{location}request-changes/",
        json={"comment": "Say which banks"},
        headers={"Idempotency-Key": uuid.uuid4().hex, "If-Match": read.headers["ETag"]},
    )
    revised = served.call(
        "PATCH",
        location,
        user=REPORTER_USER,
        json={"note": "Pilots in two banks"},
        headers={"If-Match": requested.headers["ETag"]},
    )
    approved = served.call(
        "POST",
        f"{location}approve/",
        json={},
        headers={"Idempotency-Key": uuid.uuid4().hex, "If-Match": revised.headers["ETag"]},
    )
    entry = served.call("GET", approved.json()["status_update_url"])
    pending = served.call("GET", "/api/v1/proposals/", params={"state": "pending"})

    assert proposed.status_code == 202, proposed.text
    assert read.status_code == 200 and read.json()["state"] == "pending"
    assert requested.status_code == 200, requested.text
    assert revised.status_code == 200 and revised.json()["revision"] == 2
    assert approved.status_code == 200, approved.text
    assert (entry.json()["status"], entry.json()["recorded_by"]) == (
        "in_progress",
        "served-reporter",
    )
    assert approved.json()["id"] not in [p["id"] for p in pending.json()["results"]]


def test_a_proposal_is_rejected_and_another_withdrawn(served):
    measure = measure_id(served, "5.3")
    first = propose(served, measure, progress=20, day="2026-01-10")
    second = propose(served, measure, progress=25, day="2026-01-11")

    rejected = served.call(
        "POST",
        f"{first.headers['Location']}reject/",
        json={"reason": "No source given"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    withdrawn = served.call(
        "POST",
        f"{second.headers['Location']}withdraw/",
        user=REPORTER_USER,
        json={},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    again = served.call(
        "POST",
        f"{second.headers['Location']}approve/",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )

    assert (first.status_code, second.status_code) == (202, 202)
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert again.status_code == 409


# Reports


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_report_preview_is_served_in_every_format(served, fmt):
    response = served.call(
        "GET", "/api/v1/reports/preview/", params={"file": fmt, "lang": "zh", "period": "year"}
    )

    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith(FORMATS[fmt])
    assert response.content


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_published_report_is_downloaded_in_every_format(served, fmt):
    report = served.call("GET", "/api/v1/reports/").json()["results"][0]

    response = served.call(
        "GET", f"/api/v1/reports/{report['id']}/download/", params={"file": fmt, "lang": "en"}
    )

    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith(FORMATS[fmt])
    assert response.content


# Exports


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/measures/export/", {"pillar": 3}),
        ("/api/v1/status-updates/export/", {"measure": "1.1"}),
        ("/api/v1/evidence/export/", {"measure": "3.2"}),
    ],
)
@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("csv", "text/csv"), ("xlsx", "application/vnd.openxmlformats-officedocument")],
)
def test_every_export_is_served_as_csv_and_xlsx(served, path, params, fmt, media_type):
    response = served.call("GET", path, params={**params, "file": fmt, "lang": "zh"})

    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith(media_type)
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.content


# Spreadsheet imports


def test_a_spreadsheet_is_checked_listed_read_and_confirmed(served):
    measure = "5.2"
    sheet = (
        "measure code,status,progress (%),effective date,confidence,note,evidence keys\n"
        f"{measure},planned,10,2025-06-01,medium,Served import,\n"
    ).encode()
    uploaded = served.call(
        "POST",
        "/api/v1/imports/",
        files={"file": ("updates.csv", sheet, "text/csv")},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert uploaded.status_code == 201, uploaded.text[:500]
    assert [row["outcome"] for row in uploaded.json()["rows"]] == ["record"]

    listed = served.call("GET", "/api/v1/imports/")
    read = served.call("GET", uploaded.headers["Location"])
    confirmed = served.call(
        "POST",
        f"/api/v1/imports/{uploaded.json()['id']}/confirm/",
        headers={"If-Match": read.headers["ETag"], "Idempotency-Key": uuid.uuid4().hex},
    )

    assert listed.json()["results"][0]["id"] == uploaded.json()["id"]
    assert confirmed.status_code == 200, confirmed.text[:500]
    assert confirmed.json()["rows"][0]["outcome"] == "recorded"
    history = served.call("GET", FEED, params={"measure": measure}).json()["results"]
    assert "Served import" in [entry["note"] for entry in history]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_import_template_is_served(served, fmt):
    response = served.call("GET", "/api/v1/imports/template/", params={"file": fmt, "lang": "zh"})

    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_a_viewer_may_not_import(served):
    response = served.call(
        "POST",
        "/api/v1/imports/",
        user=VIEWER_USER,
        files={"file": ("updates.csv", b"measure code\n5.1\n", "text/csv")},
    )

    assert response.status_code == 403


# Webhooks


def test_a_webhook_subscription_is_made_changed_redelivered_and_deleted(served):
    webhooks = "/api/v1/webhooks/"
    measure = measure_id(served, "5.3")
    created = served.call(
        "POST",
        webhooks,
        user=ADMIN_USER,
        json={"url": "http://127.0.0.1:9/served", "events": ["status_update.recorded"]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    location = created.headers["Location"]
    listed = served.call("GET", webhooks, user=ADMIN_USER, params={"active": "true"})
    changed = served.call(
        "PATCH",
        location,
        user=ADMIN_USER,
        json={"description": "Served"},
        headers={"If-Match": created.headers["ETag"]},
    )
    etag = served.call("GET", f"{MEASURES}{measure}/").headers["ETag"]
    record(served, measure, etag=etag, key=uuid.uuid4().hex, note="announced")
    deliveries = served.call("GET", f"{location}deliveries/", user=ADMIN_USER)
    [delivery] = deliveries.json()["results"]
    redelivered = served.call(
        "POST",
        f"{location}deliveries/{delivery['id']}/redeliver/",
        user=ADMIN_USER,
        json={},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    rotated = served.call(
        "POST",
        f"{location}rotate-secret/",
        user=ADMIN_USER,
        json={},
        headers={"Idempotency-Key": uuid.uuid4().hex, "If-Match": changed.headers["ETag"]},
    )
    refused = served.call("GET", webhooks)  # an analyst without the permission
    deleted = served.call(
        "DELETE", location, user=ADMIN_USER, headers={"If-Match": rotated.headers["ETag"]}
    )

    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    assert created.json()["id"] in [s["id"] for s in listed.json()["results"]]
    assert changed.status_code == 200 and "secret" not in changed.json()
    assert delivery["event"]["type"] == "status_update.recorded"
    assert redelivered.status_code == 200 and redelivered.json()["state"] == "pending"
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created.json()["secret"]
    assert refused.status_code == 403
    assert deleted.status_code == 204
    assert served.call("GET", location, user=ADMIN_USER).status_code == 404


# Errors


def test_an_unknown_query_parameter_is_400(served):
    response = served.call("GET", MEASURES, params={"colour": "red"})

    assert response.status_code == 400
    assert "colour" in response.text


def test_no_credentials_is_401(served):
    response = served.call("GET", MEASURES, user=None)

    assert response.status_code == 401


def test_a_viewer_may_not_write(served):
    measure = measure_id(served, "5.1")

    response = served.call(
        "POST",
        f"{MEASURES}{measure}/status-updates/",
        user=VIEWER_USER,
        json={"status": "planned", "progress": 10, "effective_date": "2026-01-15"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )

    assert response.status_code == 403


@pytest.mark.parametrize("tail", ["999999/", "abc/", "1/nothing/"])
def test_an_unknown_id_or_path_is_a_json_404(served, tail):
    response = served.call("GET", f"{MEASURES}{tail}")

    assert response.status_code == 404
    assert list(response.json()) == ["detail"]  # JSON under runserver's DEBUG=1 too


def test_a_status_update_cannot_be_deleted(served):
    update = served.call("GET", FEED).json()["results"][0]

    response = served.call("DELETE", f"{FEED}{update['id']}/")

    assert response.status_code == 405
    assert served.call("GET", f"{FEED}{update['id']}/").status_code == 200


def test_a_viewer_follows_a_measure_sets_a_daily_digest_and_unfollows(served):
    follows = "/api/v1/follows/"

    made = served.call("POST", follows, user=VIEWER_USER, json={"measure": "3.2"})
    settings = served.call("GET", "/api/v1/digest-settings/", user=VIEWER_USER)  # made now
    listed = served.call("GET", follows, user=VIEWER_USER, params={"kind": "measure"})
    detail = served.call("GET", made.headers["Location"], user=VIEWER_USER)
    changed = served.call(
        "PATCH",
        "/api/v1/digest-settings/",
        user=VIEWER_USER,
        json={"frequency": "daily"},
        headers={"If-Match": settings.headers["ETag"]},
    )
    removed = served.call("DELETE", made.headers["Location"], user=VIEWER_USER)

    assert (settings.status_code, made.status_code, listed.status_code) == (200, 201, 200)
    assert detail.json()["measure"] == "3.2"
    assert changed.json()["frequency"] == "daily"
    assert removed.status_code == 204
    assert served.call("GET", follows, user=VIEWER_USER).json()["count"] == 0


def test_every_operation_of_the_schema_was_exercised(served):
    # Runs after every other test of its server (conftest's collection hook).
    missing = served.checker.operations() - EXERCISED[served.kind]

    assert not missing, f"operations the served suite never called: {sorted(missing)}"
