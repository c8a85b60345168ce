"""A Python client generated from the served schema (openapi-python-client, into
var/generated-client/) works against the gunicorn-served app: it parses every answer and meets
no status the schema does not declare (`raise_on_unexpected_status=True`)."""

import datetime
import importlib
import json
import os
import pkgutil
import subprocess
import sys
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.serving import ROOT

pytestmark = [
    pytest.mark.served,
    pytest.mark.parametrize("served", ["gunicorn"], indirect=True),
]

OUTPUT = ROOT / "var" / "generated-client"
PACKAGE = "tracker_client"
FORMATS = {
    "json": "application/json",
    "markdown": "text/markdown",
    "csv": "text/csv",
    "html": "text/html",
}


@pytest.fixture(scope="session")
def generated(served):
    """The generated package, imported. A schema the generator refuses fails the tests."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    schema = OUTPUT / "schema.json"
    schema.write_text(json.dumps(served.schema, indent=1))
    bin_dir = os.path.dirname(sys.executable)  # its post-generation hook runs ruff from here
    result = subprocess.run(
        [
            os.path.join(bin_dir, "openapi-python-client"),
            "generate",
            f"--path={schema}",
            f"--output-path={OUTPUT / PACKAGE}",
            "--overwrite",
            "--meta=none",
            "--fail-on-warning",
        ],
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            "openapi-python-client could not generate a client from the served schema:\n"
            + (result.stdout + result.stderr)[-3000:]
        )
    sys.path.insert(0, str(OUTPUT))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]  # a client generated earlier in this process
    return importlib.import_module(PACKAGE)


@pytest.fixture
def api(generated, served):
    """(the client, its operations' modules by name, its models) for the analyst."""
    client = generated.AuthenticatedClient(
        base_url=served.server.base_url,
        token=served.tokens["served-analyst"],
        prefix="Token",
        headers=served.headers,
        raise_on_unexpected_status=True,
        timeout=30,
    )
    # One package per tag of the schema (measures, status_updates, …), one module per operation.
    api_package = importlib.import_module(f"{PACKAGE}.api")
    where = {
        operation.name: f"{api_package.__name__}.{tag.name}.{operation.name}"
        for tag in pkgutil.iter_modules(api_package.__path__)
        for operation in pkgutil.iter_modules(
            importlib.import_module(f"{api_package.__name__}.{tag.name}").__path__
        )
    }
    modules = {
        name: importlib.import_module(where[name])
        for name in (
            "v1_measures_list",
            "v1_measures_retrieve",
            "v1_measures_status_updates_create",
            "v1_status_updates_list",
            "v1_evidence_create",
            "v1_sources_list",
            "v1_reports_list",
            "v1_reports_preview_retrieve",
            "v1_reports_download_retrieve",
        )
    }
    return client, modules, importlib.import_module(f"{PACKAGE}.models")


def cursor_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["cursor"][0]


def test_the_generated_client_reads_writes_and_follows_the_feed(api):
    client, v1, models = api
    update = models.StatusUpdateInputRequest(
        status=models.StatusEnum.IN_PROGRESS,
        progress=40,
        effective_date=datetime.date(2026, 2, 1),
        note="generated client",
    )

    listed = v1["v1_measures_list"].sync_detailed(
        client=client, pillar=3, ordering=models.V1MeasuresListOrdering.CODE
    )
    measure = listed.parsed.results[0]
    read = v1["v1_measures_retrieve"].sync_detailed(str(measure.id), client=client)
    etag, key = read.headers["etag"], uuid.uuid4().hex
    post = v1["v1_measures_status_updates_create"].sync_detailed
    created = post(str(measure.id), client=client, body=update, if_match=etag, idempotency_key=key)
    replayed = post(str(measure.id), client=client, body=update, if_match=etag, idempotency_key=key)
    stale = post(
        str(measure.id), client=client, body=update, if_match=etag, idempotency_key=uuid.uuid4().hex
    )

    assert listed.status_code == 200
    assert [m.pillar for m in listed.parsed.results] == [3] * len(listed.parsed.results)
    assert etag.startswith(f'"{read.parsed.version}.')  # the version, then the digest
    assert created.status_code == 201
    assert isinstance(created.parsed, models.RecordedStatusUpdate)
    assert created.parsed.measure_state.version == read.parsed.version + 1
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.parsed.id == created.parsed.id
    assert stale.status_code == 412
    assert stale.parsed.current_version == read.parsed.version + 1

    feed = v1["v1_status_updates_list"].sync_detailed
    page, pages = feed(client=client, page_size=5).parsed, 1
    while page.next_ and pages < 100:
        page, pages = feed(client=client, cursor=cursor_of(page.next_)).parsed, pages + 1
    resume = page.resume
    etag = v1["v1_measures_retrieve"].sync_detailed(str(measure.id), client=client).headers["etag"]
    again = post(
        str(measure.id), client=client, body=update, if_match=etag, idempotency_key=uuid.uuid4().hex
    )
    resumed = feed(client=client, cursor=cursor_of(resume))

    assert page.next_ is None
    assert again.status_code == 201
    assert [u.id for u in resumed.parsed.results] == [again.parsed.id]

    then = v1["v1_measures_list"].sync_detailed(
        client=client, as_of=datetime.date(2025, 4, 15), page_size=100
    )

    assert {m.status for m in then.parsed.results} == {models.StatusEnum.NOT_ASSESSED}


def test_the_generated_client_creates_evidence_with_figures(api):
    client, v1, models = api
    source = v1["v1_sources_list"].sync_detailed(client=client).parsed.results[0]
    body = models.EvidenceInputRequest(
        source=source.id,
        claim_zh="试点",
        claim_en="A pilot",
        figures=[
            models.FigureRequest(value="12", unit="%", measures_zh="份额", measures_en="share")
        ],
        measures=[models.EvidenceMeasureRequest(measure="3.2", stance=models.StanceEnum.SUPPORTS)],
    )

    created = v1["v1_evidence_create"].sync_detailed(
        client=client, body=body, idempotency_key=uuid.uuid4().hex
    )

    assert created.status_code == 201
    assert isinstance(created.parsed, models.Evidence)
    assert [f.measures_en for f in created.parsed.figures] == ["share"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_generated_client_fetches_every_report_format(api, fmt):
    client, v1, models = api
    report = v1["v1_reports_list"].sync_detailed(client=client).parsed.results[0]
    preview = v1["v1_reports_preview_retrieve"]
    download = v1["v1_reports_download_retrieve"]
    asked = {
        "file": models.ReportFormatEnum(fmt),
        "period": models.ReportPeriodEnum("year"),
    }

    if fmt == "json":
        previewed = preview.sync_detailed(client=client, **asked)
        downloaded = download.sync_detailed(
            str(report.id), client=client, file=models.ReportFormatEnum(fmt)
        )
        assert (previewed.status_code, downloaded.status_code) == (200, 200)
        assert previewed.parsed is not None and downloaded.parsed is not None
        return
    # One status, four media types: the generator parses the first (JSON) only, so the text
    # formats go through the generated request with the client's own transport.
    httpx_client = client.get_httpx_client()
    for response in (
        httpx_client.request(**preview._get_kwargs(**asked)),
        httpx_client.request(
            **download._get_kwargs(str(report.id), file=models.ReportFormatEnum(fmt))
        ),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(FORMATS[fmt])
        assert response.text
