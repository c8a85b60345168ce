"""Every admin page an analyst, a reporter or a superuser opens runs a fixed number of queries,
whatever the data: each page is counted on the seed, then again once the very records it
shows have many more status updates, evidence links, revisions, audit and admin-log entries,
pending proposals (the home page's review queue, a reporter's own) (and the tables beside
them many more rows), and both counts must equal the one pinned here."""

import re
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.admin import ShowFacets
from django.contrib.admin.filters import AllValuesFieldListFilter, RelatedFieldListFilter
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from audit.models import Change
from config.admin_paginator import EstimatedCountPaginator
from events.models import Event
from evidence.admin import REVISIONS_SHOWN
from evidence.choices import Stance
from evidence.models import (
    Evidence,
    EvidenceFigure,
    EvidenceMeasure,
    EvidenceRevision,
    EvidenceRisk,
    Source,
    StatusUpdateEvidence,
)
from evidence.revisions import record_revisions
from follows.models import DigestSent, DigestSettings, Follow
from follows.services import follow
from intake.models import Import, ImportRow
from intake.services import check_file
from recommendations import services
from recommendations.admin import LISTED
from recommendations.choices import InstitutionRole, Status
from recommendations.models import (
    IdempotencyKey,
    InnovationMechanism,
    Institution,
    Measure,
    MeasureInstitution,
    MeasureRisk,
    Pillar,
    ReportSnapshot,
    Risk,
    RiskMechanism,
    Scenario,
    StatusUpdate,
)
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import build_status_report
from recommendations.roles import ANALYST, REPORTER
from review import services as review
from review.models import Proposal, ProposalDecision, ProposalRevision, ReporterInstitution
from tests.conftest import TODAY, make_user
from tests.factories import (
    EvidenceFactory,
    InstitutionFactory,
    MeasureFactory,
    PillarFactory,
    SourceFactory,
    link_evidence,
)
from tests.intake.files import csv_bytes
from tokens.models import ApiToken
from tokens.services import create_token
from webhooks import services as webhooks
from webhooks.models import Delivery, DeliveryAttempt, Subscription

pytestmark = pytest.mark.django_db

# How many rows the growth adds to each thing a page shows: more than any page's page size
# (100), history shown (50) or trail (20).
MORE = 150


# Queries per page, whatever the data (the test below checks both sizes against these). A
# change here is a page that reads more, or less: say why in the commit.
EXPECTED_QUERIES = {
    "ana": {
        "home": 10,
        "recommendations.pillar list": 7,
        "recommendations.pillar change": 6,
        "recommendations.pillar history": 7,
        "recommendations.risk list": 7,
        "recommendations.risk change": 6,
        "recommendations.risk history": 7,
        "recommendations.scenario list": 7,
        "recommendations.scenario change": 5,
        "recommendations.scenario history": 7,
        "recommendations.innovationmechanism list": 7,
        "recommendations.innovationmechanism change": 5,
        "recommendations.innovationmechanism history": 7,
        "recommendations.institution list": 8,
        "recommendations.institution change": 5,
        "recommendations.institution history": 7,
        "recommendations.reportsnapshot list": 8,
        "recommendations.reportsnapshot change": 7,
        "recommendations.reportsnapshot history": 7,
        "evidence.source list": 6,
        "evidence.source add": 4,
        "evidence.source change": 6,
        "evidence.source history": 8,
        "evidence.evidencerevision list": 6,
        "evidence.evidencerevision list of a piece": 6,
        "evidence.evidencerevision change": 6,
        "evidence.evidencerevision history": 7,
        "audit.change list": 7,
        "audit.change list of a record": 7,
        "audit.change list by a user": 7,
        "audit.change list in a year": 7,
        "audit.change list searched": 7,
        "audit.change change": 5,
        "audit.change history": 7,
        "recommendations.measure list": 9,
        "recommendations.measure list of a pillar": 9,
        "recommendations.measure list needing attention": 10,
        "recommendations.measure list by risk": 9,
        "recommendations.measure list searched": 9,
        "recommendations.measure change": 13,
        "recommendations.measure history": 8,
        "recommendations.statusupdate list": 8,
        "recommendations.statusupdate list of a measure": 8,
        "recommendations.statusupdate list of a pillar, by status": 8,
        "recommendations.statusupdate list searched": 9,
        "recommendations.statusupdate list in a year": 8,
        "recommendations.statusupdate list in a month": 8,
        "recommendations.statusupdate add": 4,
        "recommendations.statusupdate change": 9,
        "recommendations.statusupdate history": 8,
        "evidence.evidence list": 10,
        "evidence.evidence list on a measure": 10,
        "evidence.evidence list from a source": 10,
        "evidence.evidence list on a pillar": 10,
        "evidence.evidence list in a year": 10,
        "evidence.evidence list searched": 10,
        "evidence.evidence add": 4,
        "evidence.evidence change": 14,
        "evidence.evidence history": 8,
        "review.proposal list": 8,
        "review.proposal change": 10,
        "review.proposal history": 7,
        "audit app": 4,
        "evidence app": 4,
        "recommendations app": 4,
        "review app": 4,
        "autocomplete evidence.evidence.institutions": 6,
        "autocomplete evidence.evidence.source": 6,
        "autocomplete evidence.evidenceinnovationmechanism.mechanism": 6,
        "autocomplete evidence.evidencemeasure.measure": 6,
        "autocomplete evidence.evidencerisk.risk": 6,
        "autocomplete evidence.evidencescenario.scenario": 6,
        "autocomplete evidence.statusupdateevidence.evidence": 6,
        "autocomplete recommendations.measure.scenarios": 6,
        "autocomplete recommendations.measureinstitution.institution": 6,
        "autocomplete recommendations.measurerisk.risk": 6,
        "autocomplete recommendations.statusupdate.measure": 6,
        "autocomplete review.proposal.measure": 6,
        "autocomplete webhooks.subscription.measure": 6,
        "autocomplete a measure by code": 6,
        "autocomplete evidence by a word": 6,
        "report": 4,
        "intake.import list": 6,
        "intake.import add": 4,
        "intake.import change": 6,
        "intake.import history": 7,
        "intake app": 4,
        "follows.follow list": 8,
        "follows.follow add": 6,
        "follows.follow change": 5,
        "follows.follow history": 7,
        "follows.digestsettings list": 6,
        "follows.digestsettings add": 5,
        "follows.digestsettings change": 5,
        "follows.digestsettings history": 7,
        "follows.digestsent list": 6,
        "follows.digestsent change": 5,
        "follows.digestsent history": 7,
        "follows app": 4,
        "autocomplete follows.follow.measure": 6,
    },
    "root": {
        "home": 10,  # and the webhook outbox: its depth, its oldest event
        "axes.accessattempt list": 4,
        "axes.accessattempt change": 4,
        "axes.accessattempt history": 5,
        "axes.accesslog list": 4,
        "axes.accesslog list by path": 4,
        "axes.accesslog change": 3,
        "axes.accesslog history": 5,
        "axes.accessfailurelog list": 4,
        "axes.accessfailurelog change": 3,
        "axes.accessfailurelog history": 5,
        "auth.group list": 5,
        "auth.group add": 3,
        "auth.group change": 5,
        "auth.group history": 6,
        "auth.user list": 6,
        "auth.user add": 2,
        "auth.user change": 7,
        "auth.user history": 6,
        "recommendations.pillar list": 5,
        "recommendations.pillar add": 2,
        "recommendations.pillar change": 4,
        "recommendations.pillar history": 5,
        "recommendations.risk list": 5,
        "recommendations.risk add": 2,
        "recommendations.risk change": 4,
        "recommendations.risk history": 5,
        "recommendations.scenario list": 5,
        "recommendations.scenario add": 2,
        "recommendations.scenario change": 3,
        "recommendations.scenario history": 5,
        "recommendations.innovationmechanism list": 5,
        "recommendations.innovationmechanism add": 2,
        "recommendations.innovationmechanism change": 3,
        "recommendations.innovationmechanism history": 5,
        "recommendations.institution list": 6,
        "recommendations.institution add": 2,
        "recommendations.institution change": 3,
        "recommendations.institution history": 5,
        "recommendations.reportsnapshot list": 6,
        "recommendations.reportsnapshot change": 5,
        "recommendations.reportsnapshot history": 5,
        "recommendations.idempotencykey list": 4,
        "recommendations.idempotencykey list answered": 4,
        "recommendations.idempotencykey change": 4,
        "recommendations.idempotencykey history": 5,
        "evidence.source list": 4,
        "evidence.source add": 2,
        "evidence.source change": 4,
        "evidence.source history": 6,
        "evidence.evidencerevision list": 4,
        "evidence.evidencerevision list of a piece": 4,
        "evidence.evidencerevision change": 4,
        "evidence.evidencerevision history": 5,
        "tokens.apitoken list": 6,
        "tokens.apitoken add": 2,
        "tokens.apitoken change": 4,
        "tokens.apitoken history": 6,
        "audit.change list": 5,
        "audit.change list of a record": 5,
        "audit.change list by a user": 5,
        "audit.change list in a year": 5,
        "audit.change list searched": 5,
        "audit.change change": 3,
        "audit.change history": 5,
        "recommendations.measure list": 7,
        "recommendations.measure list of a pillar": 7,
        "recommendations.measure list needing attention": 8,
        "recommendations.measure list by risk": 7,
        "recommendations.measure list searched": 7,
        "recommendations.measure add": 3,
        "recommendations.measure change": 11,
        "recommendations.measure history": 6,
        "recommendations.statusupdate list": 6,
        "recommendations.statusupdate list of a measure": 6,
        "recommendations.statusupdate list of a pillar, by status": 6,
        "recommendations.statusupdate list searched": 7,
        "recommendations.statusupdate list in a year": 6,
        "recommendations.statusupdate list in a month": 6,
        "recommendations.statusupdate add": 2,
        "recommendations.statusupdate change": 7,
        "recommendations.statusupdate history": 6,
        "evidence.evidence list": 8,
        "evidence.evidence list on a measure": 8,
        "evidence.evidence list from a source": 8,
        "evidence.evidence list on a pillar": 8,
        "evidence.evidence list in a year": 8,
        "evidence.evidence list searched": 8,
        "evidence.evidence add": 2,
        "evidence.evidence change": 12,
        "evidence.evidence history": 6,
        "review.proposal list": 6,
        "review.proposal change": 8,
        "review.proposal history": 5,
        "review.reporterinstitution list": 6,
        "review.reporterinstitution add": 4,
        "review.reporterinstitution change": 7,
        "review.reporterinstitution history": 7,
        "audit app": 2,
        "auth app": 2,
        "axes app": 2,
        "evidence app": 2,
        "recommendations app": 2,
        "review app": 2,
        "tokens app": 2,
        "autocomplete evidence.evidence.institutions": 4,
        "autocomplete evidence.evidence.source": 4,
        "autocomplete evidence.evidenceinnovationmechanism.mechanism": 4,
        "autocomplete evidence.evidencemeasure.measure": 4,
        "autocomplete evidence.evidencerisk.risk": 4,
        "autocomplete evidence.evidencescenario.scenario": 4,
        "autocomplete evidence.statusupdateevidence.evidence": 4,
        "autocomplete recommendations.measure.scenarios": 4,
        "autocomplete recommendations.measureinstitution.institution": 4,
        "autocomplete recommendations.measurerisk.risk": 4,
        "autocomplete recommendations.statusupdate.measure": 4,
        "autocomplete review.proposal.measure": 4,
        "autocomplete tokens.apitoken.user": 4,
        "autocomplete webhooks.subscription.measure": 4,
        "autocomplete a measure by code": 4,
        "autocomplete evidence by a word": 4,
        "report": 2,
        "intake.import list": 4,
        "intake.import add": 2,
        "intake.import change": 4,
        "intake.import history": 5,
        "intake app": 2,
        "follows.follow list": 6,
        "follows.follow add": 4,
        "follows.follow change": 3,
        "follows.follow history": 5,
        "follows.digestsettings list": 4,
        "follows.digestsettings add": 3,
        "follows.digestsettings change": 3,
        "follows.digestsettings history": 5,
        "follows.digestsent list": 4,
        "follows.digestsent change": 3,
        "follows.digestsent history": 5,
        "follows app": 2,
        "autocomplete follows.follow.measure": 4,
        # The list: its rows with each one's pending deliveries (a subquery per row), and the
        # outbox's depth and oldest event (two).
        "webhooks.subscription list": 7,
        "webhooks.subscription add": 3,
        "webhooks.subscription change": 5,
        "webhooks.subscription history": 5,
        # The confirmation of a new secret: the session, the user, the subscription.
        "webhooks.subscription new secret": 3,
        "webhooks.delivery list": 5,
        "webhooks.delivery list of a subscription": 5,
        "webhooks.delivery list pending": 5,
        "webhooks.delivery change": 4,
        "webhooks.delivery history": 5,
        "webhooks app": 2,
    },
    "rita": {
        "home": 9,
        # Its own imports only.
        "intake.import list": 6,
        "intake.import add": 4,
        "intake.import change": 6,
        "intake.import history": 6,
        "intake app": 4,
        "recommendations.pillar list": 7,
        "recommendations.pillar change": 6,
        "recommendations.pillar history": 7,
        "recommendations.risk list": 7,
        "recommendations.risk change": 6,
        "recommendations.risk history": 7,
        "recommendations.scenario list": 7,
        "recommendations.scenario change": 5,
        "recommendations.scenario history": 7,
        "recommendations.innovationmechanism list": 7,
        "recommendations.innovationmechanism change": 5,
        "recommendations.innovationmechanism history": 7,
        "recommendations.institution list": 8,
        "recommendations.institution change": 5,
        "recommendations.institution history": 7,
        "recommendations.reportsnapshot list": 8,
        "recommendations.reportsnapshot change": 7,
        "recommendations.reportsnapshot history": 7,
        "evidence.source list": 6,
        "evidence.source change": 6,
        "evidence.source history": 8,
        "evidence.evidencerevision list": 6,
        "evidence.evidencerevision list of a piece": 6,
        "evidence.evidencerevision change": 6,
        "evidence.evidencerevision history": 7,
        "audit.change list": 7,
        "audit.change list of a record": 7,
        "audit.change list by a user": 7,
        "audit.change list in a year": 7,
        "audit.change list searched": 7,
        "audit.change change": 5,
        "audit.change history": 7,
        "recommendations.measure list": 9,
        "recommendations.measure list of a pillar": 9,
        "recommendations.measure list needing attention": 10,
        "recommendations.measure list by risk": 9,
        "recommendations.measure list searched": 9,
        "recommendations.measure change": 13,
        "recommendations.measure history": 8,
        "recommendations.statusupdate list": 8,
        "recommendations.statusupdate list of a measure": 8,
        "recommendations.statusupdate list of a pillar, by status": 8,
        "recommendations.statusupdate list searched": 9,
        "recommendations.statusupdate list in a year": 8,
        "recommendations.statusupdate list in a month": 8,
        "recommendations.statusupdate change": 8,
        "recommendations.statusupdate history": 8,
        "evidence.evidence list": 10,
        "evidence.evidence list on a measure": 10,
        "evidence.evidence list from a source": 10,
        "evidence.evidence list on a pillar": 10,
        "evidence.evidence list in a year": 10,
        "evidence.evidence list searched": 10,
        "evidence.evidence change": 13,
        "evidence.evidence history": 8,
        "review.proposal list": 8,
        "review.proposal add": 4,
        "review.proposal change": 10,
        "review.proposal history": 7,
        "audit app": 4,
        "evidence app": 4,
        "recommendations app": 4,
        "review app": 4,
        "autocomplete evidence.evidence.institutions": 6,
        "autocomplete evidence.evidence.source": 6,
        "autocomplete evidence.evidenceinnovationmechanism.mechanism": 6,
        "autocomplete evidence.evidencemeasure.measure": 6,
        "autocomplete evidence.evidencerisk.risk": 6,
        "autocomplete evidence.evidencescenario.scenario": 6,
        "autocomplete evidence.statusupdateevidence.evidence": 6,
        "autocomplete recommendations.measure.scenarios": 6,
        "autocomplete recommendations.measureinstitution.institution": 6,
        "autocomplete recommendations.measurerisk.risk": 6,
        "autocomplete recommendations.statusupdate.measure": 6,
        "autocomplete review.proposal.measure": 6,
        "autocomplete webhooks.subscription.measure": 6,
        "autocomplete a measure by code": 6,
        "autocomplete evidence by a word": 6,
        "report": 4,
        "follows.follow list": 8,
        "follows.follow add": 6,
        "follows.follow change": 5,
        "follows.follow history": 6,
        "follows.digestsettings list": 6,
        "follows.digestsettings add": 5,
        "follows.digestsettings change": 5,
        "follows.digestsettings history": 6,
        "follows.digestsent list": 6,
        "follows.digestsent change": 5,
        "follows.digestsent history": 6,
        "follows app": 4,
        "autocomplete follows.follow.measure": 6,
    },
}


@pytest.fixture
def world(django_user_model):
    """The seed, the two users, and one record of every kind the admin lists."""
    call_command("load_seed", stdout=StringIO())
    root = django_user_model.objects.create_superuser("root", password="correct horse battery")
    ana = make_user(django_user_model, "ana", ANALYST)
    save_report(report=build_status_report(since=date(2025, 1, 1), until=date(2025, 6, 30)), by=ana)
    now = timezone.now()
    create_token(user=ana, name="dashboard", now=now)
    IdempotencyKey.objects.create(
        user=ana,
        key="k-0",
        fingerprint="f" * 64,
        method="POST",
        path="/api/v1/evidence/",
        response_status=201,
        expires_at=now + timedelta(days=1),
    )
    attempt = {"ip_address": "192.0.2.1", "username": "ana", "user_agent": "Firefox"}
    AccessAttempt.objects.create(**attempt, failures_since_start=1, path_info="/admin/login/")
    AccessLog.objects.create(**attempt, path_info="/admin/login/")
    AccessFailureLog.objects.create(**attempt, path_info="/admin/login/", locked_out=False)
    rita = make_user(django_user_model, "rita", REPORTER)
    proposal = review.propose(
        measure=Measure.objects.order_by("code").first(),
        status=Status.IN_PROGRESS,
        progress=30,
        effective_date=date(2026, 3, 1),
        note="Pilots",
        by=rita,
        today=TODAY,
    )
    review.request_changes(proposal=proposal, by=ana, comment="Which banks?")
    # One waiting in the analysts' queue (the growth adds many more), citing evidence.
    waiting_for = Measure.objects.order_by("code")[1]
    cited = EvidenceFactory()
    link_evidence(cited, waiting_for)
    review.propose(
        measure=waiting_for,
        status=Status.PLANNED,
        progress=10,
        effective_date=date(2026, 3, 1),
        evidence=[cited],
        by=rita,
        today=TODAY,
    )
    ReporterInstitution.objects.create(user=rita, institution=Institution.objects.first())
    spreadsheet = csv_bytes([["1.1", "planned", "10", "2025-06-01", "high", "", ""]])
    check_file(data=spreadsheet, filename="updates.csv", by=ana, channel="admin")
    check_file(data=spreadsheet, filename="mine.csv", by=rita, channel="admin")
    # Each user's follows, digest settings and a digest sent (each sees only their own).
    for user in (ana, rita, root):
        follow(user=user, measure=Measure.objects.order_by("code").first())
        DigestSent.objects.create(
            user=user,
            frequency="weekly",
            period_start=date(2026, 6, 22),
            period_end=date(2026, 6, 28),
            state="sent",
            language="en",
        )
    hooked = webhooks.create_subscription(owner=root, url="http://127.0.0.1:9/in")
    webhooks.fan_out([Event.objects.order_by("id").first()])
    DeliveryAttempt.objects.create(
        delivery=hooked.deliveries.get(), attempted_at=now, status_code=503, duration_ms=4
    )
    request = RequestFactory().get("/")
    request.user = root
    # The record each model's pages open: the first its admin lists, kept as the data grows.
    chosen = {
        model: model_admin.get_queryset(request).order_by("pk").first()
        for model, model_admin in admin.site._registry.items()
    }
    assert all(obj is not None for obj in chosen.values()), [
        m for m, o in chosen.items() if o is None
    ]
    world = {"root": root, "ana": ana, "rita": rita, "chosen": chosen}
    add_logs(world, 1)
    return world


def add_logs(world, count: int) -> None:
    """`count` audit entries and admin-log entries of every chosen record."""
    entries, logs = [], []
    for model, obj in world["chosen"].items():
        content_type = ContentType.objects.get_for_model(model)
        for n in range(count):
            entries.append(
                Change(
                    content_type=content_type,
                    object_id=obj.pk,
                    object_repr=str(obj)[:100],
                    action=Change.Action.UPDATE,
                    changes={"note_en": ["", f"growth {n}"]},
                    actor_username="ana",
                    channel="admin",
                    timestamp=timezone.now(),
                )
            )
            logs.append(
                LogEntry(
                    user=world["root"],
                    content_type=content_type,
                    object_id=str(obj.pk),
                    object_repr=str(obj)[:200],
                    action_flag=CHANGE,
                    change_message='[{"changed": {"fields": ["note"]}}]',
                )
            )
    Change.objects.bulk_create(entries)
    LogEntry.objects.bulk_create(logs)


def grow(world) -> None:
    """Many more rows everywhere, and attached to the very records the pages open."""
    chosen = world["chosen"]
    ana = world["ana"]
    now = timezone.now()
    measure = chosen[Measure]
    pillar = chosen[Pillar]
    source = chosen[Source]
    evidence = chosen[Evidence]
    update = chosen[StatusUpdate]

    # Measures in the chosen pillar, each with history.
    new_measures = Measure.objects.bulk_create(
        Measure(pillar=pillar, code=f"G.{n}", title_zh=f"增长{n}", title_en=f"Growth {n}")
        for n in range(MORE)
    )
    # Evidence from the chosen source, with revisions.
    new_evidence = Evidence.objects.bulk_create(
        Evidence(source=source, claim_zh=f"增长证据{n}", claim_en=f"Growth evidence {n}")
        for n in range(MORE)
    )
    record_revisions([e.pk for e in new_evidence])
    # The chosen measure: a long history, much evidence, more institutions and risks.
    day = date(2020, 1, 1)
    updates = StatusUpdate.objects.bulk_create(
        StatusUpdate(
            measure=target,
            status=Status.IN_PROGRESS,
            progress=n % 100,
            confidence="high",
            effective_date=day + timedelta(days=n),
            recorded_at=now - timedelta(minutes=n),
            recorded_by=ana,
            note=f"growth {n}",
        )
        for target in [measure, *new_measures[:3]]
        for n in range(MORE * 2)
    )
    revisions = {
        r.evidence_id: r for r in EvidenceRevision.objects.filter(evidence__in=new_evidence)
    }
    StatusUpdateEvidence.objects.bulk_create(
        StatusUpdateEvidence(status_update=su, evidence=e, revision=revisions[e.pk])
        for su in [update, *updates[:MORE]]
        for e in new_evidence[:20]
    )
    EvidenceMeasure.objects.bulk_create(
        EvidenceMeasure(evidence=e, measure=measure, stance=Stance.SUPPORTS) for e in new_evidence
    )
    institutions = Institution.objects.bulk_create(
        Institution(
            key=f"growth-{n}", name_zh=f"机构{n}", name_en=f"Institution {n}", kind="regulator"
        )
        for n in range(30)
    )
    MeasureInstitution.objects.bulk_create(
        MeasureInstitution(measure=measure, institution=i, role=InstitutionRole.SUPPORT)
        for i in institutions
    )
    risks = Risk.objects.bulk_create(
        Risk(key=f"growth-{n}", title_zh=f"风险{n}", title_en=f"Risk {n}", order=100 + n)
        for n in range(30)
    )
    MeasureRisk.objects.bulk_create(MeasureRisk(measure=measure, risk=r) for r in risks)
    RiskMechanism.objects.bulk_create(
        RiskMechanism(risk=chosen[Risk], order=100 + n, title_zh=f"机制{n}", title_en=f"Way {n}")
        for n in range(30)
    )
    # The chosen evidence: links to many measures and risks, many figures, many revisions,
    # cited by many updates.
    EvidenceMeasure.objects.bulk_create(
        EvidenceMeasure(evidence=evidence, measure=m, stance=Stance.CONTEXT)
        for m in new_measures[:40]
    )
    EvidenceRisk.objects.bulk_create(
        EvidenceRisk(evidence=evidence, risk=r, stance=Stance.CONTEXT) for r in risks
    )
    EvidenceFigure.objects.bulk_create(
        EvidenceFigure(
            evidence=evidence, order=n, value=Decimal(n), measures_zh="数", measures_en="n"
        )
        for n in range(40)
    )
    version = evidence.revisions.order_by("-version").first().version
    EvidenceRevision.objects.bulk_create(
        EvidenceRevision(
            evidence=evidence,
            version=version + n,
            content=evidence.revisions.get(version=version).content,
            created_by=ana,
        )
        for n in range(1, MORE + 1)
    )
    Evidence.objects.filter(pk=evidence.pk).update(version=version + MORE)
    own_revision = evidence.revisions.get(version=version)
    StatusUpdateEvidence.objects.bulk_create(
        StatusUpdateEvidence(status_update=su, evidence=evidence, revision=own_revision)
        for su in updates[MORE : MORE * 2]
    )
    add_logs(world, MORE)
    # The tables that grow on their own.
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(
            user=ana,
            key=f"k-{n + 1}",
            fingerprint="f" * 64,
            method="POST",
            path="/api/v1/status-updates/",
            response_status=201 + n % 3,
            expires_at=now + timedelta(days=1),
        )
        for n in range(MORE)
    )
    signs = {"ip_address": "192.0.2.1", "user_agent": "Firefox"}
    AccessLog.objects.bulk_create(
        AccessLog(**signs, username=f"u{n}", path_info=f"/admin/login/{n}") for n in range(MORE)
    )
    AccessFailureLog.objects.bulk_create(
        AccessFailureLog(**signs, username=f"u{n}", path_info=f"/p/{n}") for n in range(MORE)
    )
    AccessAttempt.objects.bulk_create(
        AccessAttempt(**signs, username=f"u{n}", path_info=f"/p/{n}", failures_since_start=1)
        for n in range(MORE)
    )
    for n in range(5):
        create_token(user=ana, name=f"growth {n}", now=now)
    # Proposals, and the chosen one revised and sent back many times.
    proposal = chosen[Proposal]
    Proposal.objects.bulk_create(
        Proposal(
            measure=target,
            status=Status.PLANNED,
            progress=10,
            confidence="medium",
            effective_date=date(2026, 1, 1),
            proposed_by=world["rita"],
        )
        for target in new_measures[:MORE]
    )
    ProposalRevision.objects.bulk_create(
        ProposalRevision(
            proposal=proposal,
            number=proposal.revision + n,
            status=Status.IN_PROGRESS,
            progress=30,
            confidence="medium",
            effective_date=date(2026, 3, 1),
            note=f"growth {n}",
            by=world["rita"],
        )
        for n in range(1, MORE + 1)
    )
    ProposalDecision.objects.bulk_create(
        ProposalDecision(
            proposal=proposal,
            state="changes_requested",
            revision=n,
            text=f"growth {n}",
            by=ana,
        )
        for n in range(1, MORE + 1)
    )
    # The chosen import: many more rows, half of them with problems; and more imports.
    imported = chosen[Import]
    problem = {"field": "progress", "column": "C", "heading": "progress", "messages": {"en": ["x"]}}
    ImportRow.objects.bulk_create(
        ImportRow(
            of_import=imported,
            number=100 + n,
            sequence=100 + n,
            key=f"{n:064}",
            values={"measure": "1.1", "status": "planned", "note": f"growth {n}"},
            outcome=ImportRow.Outcome.ERROR if n % 2 else ImportRow.Outcome.RECORD,
            problems=[problem] if n % 2 else [],
        )
        for n in range(MORE * 2)
    )
    Import.objects.bulk_create(
        Import(filename=f"growth {n}.csv", digest="0" * 64, size=1, format="csv", channel="api")
        for n in range(MORE)
    )
    save_report(
        report=build_status_report(since=date(2025, 1, 1), until=date(2025, 6, 30)),
        by=ana,
        force=True,
    )
    # Ana follows many more measures, and has been sent many more digests.
    Follow.objects.bulk_create(Follow(user=ana, measure=m) for m in new_measures)
    DigestSent.objects.bulk_create(
        DigestSent(
            user=ana,
            frequency="daily",
            period_start=date(2025, 1, 1) + timedelta(days=n),
            period_end=date(2025, 1, 1) + timedelta(days=n),
            state="sent",
            language="en",
        )
        for n in range(MORE)
    )
    # More subscriptions; the chosen one with many deliveries, each tried many times.
    subscription = chosen[Subscription]
    Subscription.objects.bulk_create(
        Subscription(owner=world["root"], url=f"http://127.0.0.1:9/{n}", secret="whsec_g")
        for n in range(30)
    )
    events = Event.objects.exclude(pk__in=subscription.deliveries.values("event_id"))[:MORE]
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            subscription=subscription,
            event=event,
            measure_id=event.measure_id,
            schedule_started_at=now,
            next_attempt_at=now,
            created_at=now,
        )
        for event in events
    )
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery=d, attempted_at=now, status_code=500, duration_ms=n)
        for d in [chosen[Delivery], *deliveries]
        for n in range(MORE // 2)
    )


def autocomplete_fields() -> list[tuple[str, str, str]]:
    """(app_label, model_name, field_name) of every autocomplete widget of the admin: a model
    admin's, its inlines', and the record form's evidence."""
    found = {("evidence", "statusupdateevidence", "evidence")}
    for model, model_admin in admin.site._registry.items():
        for field in model_admin.autocomplete_fields:
            found.add((model._meta.app_label, model._meta.model_name, field))
        for inline in model_admin.inlines:
            for field in inline.autocomplete_fields:
                found.add((inline.model._meta.app_label, inline.model._meta.model_name, field))
    return sorted(found)


def list_variants(world) -> dict[str, dict]:
    """Lists as the pages' links, the filters, the search and the date hierarchy narrow them
    (model label -> name -> query)."""
    chosen = world["chosen"]
    measure, evidence = chosen[Measure], chosen[Evidence]
    this_year = str(timezone.now().year)
    return {
        "recommendations.statusupdate": {
            "of a measure": {"measure__id__exact": measure.pk},
            "of a pillar, by status": {
                "measure__pillar__id__exact": measure.pillar_id,
                "status__exact": Status.IN_PROGRESS,
            },
            "searched": {"q": measure.code},
            "in a year": {"effective_date__year": "2025"},
            "in a month": {"effective_date__year": "2025", "effective_date__month": "1"},
        },
        "recommendations.measure": {
            "of a pillar": {"pillar__id__exact": chosen[Pillar].pk, "archived__exact": 0},
            "needing attention": {"attention": "reassessment_due"},
            "by risk": {"risks__id__exact": chosen[Risk].pk},
            "searched": {"q": "数据"},
        },
        "evidence.evidence": {
            "on a measure": {"measures__id__exact": measure.pk},
            "from a source": {"source__id__exact": chosen[Source].pk},
            "on a pillar": {"measures__pillar__id__exact": measure.pillar_id},
            "in a year": {"date__year": "2024"},
            "searched": {"q": "AI"},
        },
        "evidence.evidencerevision": {"of a piece": {"evidence__id__exact": evidence.pk}},
        "audit.change": {
            "of a record": {"model": "recommendations.measure", "object_id": measure.pk},
            "by a user": {"actor_username__exact": "ana"},
            "in a year": {"timestamp__year": this_year},
            "searched": {"q": measure.code},
        },
        "recommendations.idempotencykey": {"answered": {"answered": "2xx"}},
        "webhooks.delivery": {
            "of a subscription": {"subscription__id__exact": chosen[Subscription].pk},
            "pending": {"state__exact": "pending"},
        },
        "axes.accesslog": {"by path": {"path_info__exact": "/admin/login/"}},
    }


def pages(world, user) -> dict[str, str]:
    """Every page `user` may open that shows records: the home page, each app's page, each
    model's list (and its narrowed variants), add page, one record's page and history, the
    autocomplete lookups, and the report page."""
    chosen = world["chosen"]
    request = RequestFactory().get("/")
    request.user = user
    found = {"home": reverse("admin:index")}
    variants = list_variants(world)
    app_labels = set()
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        label = opts.label_lower
        name = f"admin:{opts.app_label}_{opts.model_name}"
        if not model_admin.has_view_or_change_permission(request):
            continue
        app_labels.add(opts.app_label)
        listing = reverse(f"{name}_changelist")
        found[f"{label} list"] = listing
        for variant, query in variants.get(label, {}).items():
            found[f"{label} list {variant}"] = (
                listing + "?" + "&".join(f"{key}={value}" for key, value in query.items())
            )
        if model_admin.has_add_permission(request):
            found[f"{label} add"] = reverse(f"{name}_add")
        obj = chosen[model]
        if user.groups.filter(name=REPORTER).exists():
            # A reporter opens only its own imports and proposals: its first one (and its
            # own follows and digests, as everyone does: the first listed is ana's).
            obj = model_admin.get_queryset(request).order_by("pk").first() or obj
        found[f"{label} change"] = reverse(f"{name}_change", args=[obj.pk])
        found[f"{label} history"] = reverse(f"{name}_history", args=[obj.pk])
        if model is Subscription and model_admin.has_change_permission(request, obj):
            # The confirmation of a new secret (GET writes nothing).
            found[f"{label} new secret"] = reverse(f"{name}_rotate_secret", args=[obj.pk])
    for label in sorted(app_labels):
        found[f"{label} app"] = reverse("admin:app_list", args=[label])
    for app_label, model_name, field in autocomplete_fields():
        target = apps.get_model(app_label, model_name)._meta.get_field(field).related_model
        if not admin.site.get_model_admin(target).has_view_permission(request):
            continue
        found[f"autocomplete {app_label}.{model_name}.{field}"] = (
            reverse("admin:autocomplete")
            + f"?app_label={app_label}&model_name={model_name}&field_name={field}&term="
        )
    # The two large tables' lookups with a term, as a person types one.
    autocomplete = reverse("admin:autocomplete")
    found["autocomplete a measure by code"] = (
        f"{autocomplete}?app_label=recommendations&model_name=statusupdate&field_name=measure"
        f"&term={chosen[Measure].code}"
    )
    found["autocomplete evidence by a word"] = (
        f"{autocomplete}?app_label=evidence&model_name=statusupdateevidence&field_name=evidence"
        "&term=AI"
    )
    found["report"] = reverse("admin:recommendations_reportsnapshot_report")
    return found


def count_queries(client, urls: dict[str, str]) -> dict[str, int]:
    counts = {}
    for name, url in urls.items():
        client.get(url)  # sessions, content types and caches warmed up
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        counts[name] = len(queries)
    return counts


@pytest.mark.parametrize("username", ["ana", "root", "rita"])
def test_every_admin_page_runs_the_same_queries_whatever_the_data(client, world, username):
    user = world[username]
    client.force_login(user)
    urls = pages(world, user)

    small = count_queries(client, urls)
    grow(world)
    large = count_queries(client, urls)

    assert small == EXPECTED_QUERIES[username]
    assert large == EXPECTED_QUERIES[username]


# What keeps the counts flat: how the lists of growing tables count, filter and search.

# Tables that grow without bound, and the small ones a filter of theirs may list (the
# paper's framework, the groups).
GROWING = {
    StatusUpdate,
    Measure,
    Evidence,
    EvidenceRevision,
    Source,
    Change,
    IdempotencyKey,
    AccessLog,
    AccessFailureLog,
    AccessAttempt,
    Proposal,
    Import,
    Follow,
    DigestSettings,
    DigestSent,
    Delivery,
}
SMALL = {
    Pillar,
    Risk,
    Scenario,
    InnovationMechanism,
    Institution,
    Group,
    ReportSnapshot,
    ReporterInstitution,
    Subscription,
}


def test_every_registered_model_is_known_as_growing_or_small():
    registered = set(admin.site._registry)

    assert registered - GROWING - SMALL <= {get_user_model(), ApiToken}


@pytest.mark.parametrize("model", sorted(GROWING, key=str), ids=lambda m: m._meta.label_lower)
def test_a_growing_tables_list_is_never_counted_in_full_and_has_no_facets(model):
    model_admin = admin.site.get_model_admin(model)

    assert model_admin.paginator is EstimatedCountPaginator
    assert model_admin.show_full_result_count is False
    assert model_admin.show_facets is ShowFacets.NEVER


@pytest.mark.parametrize("model", sorted(GROWING, key=str), ids=lambda m: m._meta.label_lower)
def test_a_growing_tables_filters_list_no_values_of_a_large_table(admin_client, model):
    """A filter's choices come from a small table or from the code: never from the values a
    column of a growing table holds, nor from the rows of one."""
    opts = model._meta
    response = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    for spec in response.context["cl"].filter_specs:
        assert not isinstance(spec, AllValuesFieldListFilter), (model, spec.title)
        if isinstance(spec, RelatedFieldListFilter):
            assert spec.field.related_model in SMALL, (model, spec.title)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate")
def test_the_row_count_is_exact_below_the_threshold_and_the_planners_estimate_above():
    MeasureFactory.create_batch(3)
    sql = 'SELECT "id" FROM "recommendations_measure"'
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        estimate = round(cursor.fetchone()[0][0]["Plan"]["Plan Rows"])
        cursor.execute("SELECT tracker_row_count(%s, %s)", [sql, 10**9])
        exact = cursor.fetchone()[0]
        cursor.execute("SELECT tracker_row_count(%s, %s)", [sql, 0])
        estimated = cursor.fetchone()[0]

    assert exact == 3
    assert estimated == estimate


def test_a_long_list_offers_its_first_pages_and_says_how_to_reach_the_rest(
    analyst_client, monkeypatch
):
    monkeypatch.setattr("config.admin_paginator.MAX_PAGES", 2)
    measure = MeasureFactory()
    StatusUpdate.objects.bulk_create(
        StatusUpdate(
            measure=measure,
            status=Status.PLANNED,
            progress=1,
            confidence="high",
            effective_date=date(2025, 1, 1) + timedelta(days=n),
        )
        for n in range(250)
    )
    url = reverse("admin:recommendations_statusupdate_changelist")

    first = analyst_client.get(url)
    second = analyst_client.get(url, {"p": 2})
    third = analyst_client.get(url, {"p": 3})

    assert first.context["cl"].paginator.num_pages == 2
    assert "Pages past 2 are reached by “Older entries”, by narrowing the list" in (
        first.content.decode()
    )
    assert len(second.context["cl"].result_list) == 100
    assert third.status_code == 302 and third["Location"].endswith("?e=1")  # the first page


def test_older_entries_continue_the_list_after_its_last_row_at_any_depth(
    analyst_client, monkeypatch
):
    monkeypatch.setattr("config.admin_paginator.MAX_PAGES", 2)
    measure = MeasureFactory()
    start = timezone.now() - timedelta(days=1)
    StatusUpdate.objects.bulk_create(
        StatusUpdate(
            measure=measure,
            status=Status.PLANNED,
            progress=1,
            confidence="high",
            effective_date=date(2025, 1, 1),
            # Pairs share a moment: the id breaks the tie, as in the list's order.
            recorded_at=start + timedelta(seconds=n // 2),
        )
        for n in range(250)
    )
    expected = list(
        StatusUpdate.objects.order_by("-recorded_at", "-id").values_list("pk", flat=True)
    )
    url = reverse("admin:recommendations_statusupdate_changelist")

    seen, link, pages = [], url, []
    for _ in range(5):  # bounded: 250 rows make 3 pages of 100
        page = analyst_client.get(link)
        pages.append(page)
        seen += [row.pk for row in page.context["cl"].result_list]
        older = older_link(page)
        if older is None:
            break
        link = url + older
    # The second page and the third cost the same: one more query than the first, the row
    # that the list continues after.
    assert count_of(analyst_client, url + older_link(pages[0])) == count_of(
        analyst_client, url + older_link(pages[1])
    )
    assert count_of(analyst_client, url + older_link(pages[0])) == 1 + count_of(analyst_client, url)

    assert seen == expected
    assert [len(p.context["cl"].result_list) for p in pages] == [100, 100, len(expected) - 200]
    assert "Older entries" in pages[0].content.decode()
    assert older_link(analyst_client.get(url, {"o": "-2"})) is None  # sorted by a column
    assert len(analyst_client.get(url, {"before": "x1"}).context["cl"].result_list) == 100


def older_link(response) -> str | None:
    found = re.search(
        r'<a href="(\?[^"]*before=\d+[^"]*)">Older entries', response.content.decode()
    )
    return found.group(1).replace("&amp;", "&") if found else None


def count_of(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return len(queries)


def test_the_date_hierarchy_spans_the_first_to_the_last_date_without_reading_every_row(
    analyst_client,
):
    measure = MeasureFactory(starts_on=date(2023, 5, 1))
    services.record_status_update(
        measure=measure,
        status=Status.PLANNED,
        progress=5,
        confidence="high",
        effective_date=date(2025, 2, 1),
        by=None,
        today=date(2025, 2, 1),
    )
    url = reverse("admin:recommendations_statusupdate_changelist")

    with CaptureQueriesContext(connection) as queries:
        years = analyst_client.get(url).content.decode()
    months = analyst_client.get(url, {"effective_date__year": "2024"}).content.decode()

    # Every year from the first entry's to the last's, 2024 too (which holds none).
    for year in ("2023", "2024", "2025"):
        assert f"effective_date__year={year}" in years
    # Without a year's entries, the year's months are none.
    assert "effective_date__month" not in months
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "DISTINCT" not in sql and "DATE_TRUNC" not in sql and "DJANGO_DATE_TRUNC" not in sql


def test_a_column_of_a_growing_table_is_filtered_by_a_typed_value(viewer_client):
    SourceFactory()  # a change by nobody ("–")
    measure = MeasureFactory()
    Change.objects.create(
        content_type=ContentType.objects.get_for_model(Measure),
        object_id=measure.pk,
        object_repr=str(measure),
        action=Change.Action.UPDATE,
        actor_username="ana",
    )
    url = reverse("admin:audit_change_changelist")

    page = viewer_client.get(url, {"channel__exact": "other"})
    typed = viewer_client.get(url, {"channel__exact": "other", "actor_username__exact": "ana"})

    html = page.content.decode()
    assert 'name="actor_username__exact"' in html
    # The box keeps the list's other filters.
    assert '<input type="hidden" name="channel__exact" value="other">' in html
    assert [c.actor_username for c in typed.context["cl"].result_list] == ["ana"]


def test_remembered_requests_are_filtered_by_how_they_were_answered(admin_client, analyst):
    expires = timezone.now() + timedelta(days=1)
    for n, answered in enumerate([201, 422, 500, None]):
        IdempotencyKey.objects.create(
            user=analyst,
            key=f"k-{n}",
            fingerprint="f" * 64,
            method="POST",
            path="/api/v1/evidence/",
            response_status=answered,
            expires_at=expires,
        )
    url = reverse("admin:recommendations_idempotencykey_changelist")

    def listed(answered):
        response = admin_client.get(url, {"answered": answered})
        return [key.response_status for key in response.context["cl"].result_list]

    assert (listed("2xx"), listed("4xx"), listed("5xx"), listed("none")) == (
        [201],
        [422],
        [500],
        [None],
    )


# Pages that list what belongs to a record: the first or latest few, and a link to all.


def test_a_measure_page_lists_the_first_evidence_on_it_and_links_to_all(analyst_client):
    measure = MeasureFactory()
    for _n in range(LISTED + 1):
        link_evidence(EvidenceFactory(), measure)

    page = analyst_client.get(reverse("admin:recommendations_measure_change", args=[measure.pk]))
    listing = analyst_client.get(
        reverse("admin:evidence_evidence_changelist"), {"measures__id__exact": measure.pk}
    )

    html = page.content.decode()
    assert html.count('href="/admin/evidence/evidence/') == LISTED + 1  # LISTED, and the list
    assert f"?measures__id__exact={measure.pk}" in html
    assert listing.context["cl"].result_count == LISTED + 1


def test_a_pillars_page_lists_its_first_measures_and_links_to_all(analyst_client):
    pillar = PillarFactory()
    MeasureFactory.create_batch(LISTED + 1, pillar=pillar)

    page = analyst_client.get(reverse("admin:recommendations_pillar_change", args=[pillar.pk]))
    listing = analyst_client.get(
        reverse("admin:recommendations_measure_changelist"),
        {"pillar__id__exact": pillar.pk, "archived__exact": 0},
    )

    html = page.content.decode()
    assert len(re.findall(r"/admin/recommendations/measure/\d+/change/", html)) == LISTED
    assert f"?pillar__id__exact={pillar.pk}&amp;archived__exact=0" in html
    assert listing.context["cl"].result_count == LISTED + 1


def test_a_sources_page_lists_its_latest_evidence_and_links_to_all(analyst_client):
    source = SourceFactory()
    EvidenceFactory.create_batch(LISTED + 1, source=source)

    page = analyst_client.get(reverse("admin:evidence_source_change", args=[source.pk]))
    listing = analyst_client.get(
        reverse("admin:evidence_evidence_changelist"), {"source__id__exact": source.pk}
    )

    assert f"?source__id__exact={source.pk}" in page.content.decode()
    assert listing.context["cl"].result_count == LISTED + 1


def test_an_evidence_page_shows_its_latest_revisions_and_links_to_all(analyst_client):
    evidence = EvidenceFactory()
    record_revisions([evidence.pk])
    first = evidence.revisions.get()
    EvidenceRevision.objects.bulk_create(
        EvidenceRevision(evidence=evidence, version=first.version + n, content=first.content)
        for n in range(1, REVISIONS_SHOWN + 5)
    )

    page = analyst_client.get(reverse("admin:evidence_evidence_change", args=[evidence.pk]))
    listing = analyst_client.get(
        reverse("admin:evidence_evidencerevision_changelist"), {"evidence__id__exact": evidence.pk}
    )

    shown = [form.instance.version for form in page.context["inline_admin_formsets"][-1].formset]
    assert shown == list(range(first.version + REVISIONS_SHOWN + 4, first.version + 4, -1))
    assert f"?evidence__id__exact={evidence.pk}" in page.content.decode()
    assert listing.context["cl"].result_count == REVISIONS_SHOWN + 5


def test_link_rows_show_the_records_they_link_to(analyst_client):
    measure = MeasureFactory()
    institutions = InstitutionFactory.create_batch(3)
    for institution in institutions:
        MeasureInstitution.objects.create(
            measure=measure, institution=institution, role=InstitutionRole.LEAD
        )

    page = analyst_client.get(reverse("admin:recommendations_measure_change", args=[measure.pk]))

    html = page.content.decode()
    for institution in institutions:
        assert f'<option value="{institution.pk}" selected>{institution}</option>' in html


# The status-update list's search: measures first, then their entries.


def test_the_status_update_search_finds_entries_by_their_measures_code_or_title(analyst_client):
    privacy = MeasureFactory(code="3.2", title_en="Promote privacy computing")
    MeasureFactory(code="4.1", title_en="Introduce a sandbox")
    url = reverse("admin:recommendations_statusupdate_changelist")

    def found(term):
        listed = analyst_client.get(url, {"q": term}).context["cl"].result_list
        return {update.measure.code for update in listed}

    assert found("3.") == {"3.2"}
    assert found("privacy") == found("PRIVACY computing") == {"3.2"}
    assert found(".2") == set()  # a code is matched from its beginning
    assert privacy.status_updates.exists()


def test_a_search_matching_too_many_measures_lists_the_first_and_says_so(
    analyst_client, monkeypatch
):
    monkeypatch.setattr("recommendations.admin.SEARCHED_MEASURES", 2)
    for code in ("5.1", "5.2", "5.3"):
        MeasureFactory(code=code, title_en="Shared words")
    url = reverse("admin:recommendations_statusupdate_changelist")

    response = analyst_client.get(url, {"q": "shared"})

    assert {u.measure.code for u in response.context["cl"].result_list} == {"5.1", "5.2"}
    assert "matched more than 2 measures" in response.content.decode()


# Autocomplete lookups run on indexes (PostgreSQL; SQLite reads the table, a test's rows).

AUTOCOMPLETE = {
    "measure": ("recommendations", "statusupdate", "measure", "recommendations_measure"),
    "evidence": ("evidence", "statusupdateevidence", "evidence", "evidence_evidence"),
}


def autocomplete_query(client, which: str, term: str) -> str:
    """The SQL of the page of results an autocomplete lookup reads."""
    app_label, model_name, field, table = AUTOCOMPLETE[which]
    query = urlencode(
        {"app_label": app_label, "model_name": model_name, "field_name": field, "term": term}
    )
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{reverse('admin:autocomplete')}?{query}")
    assert response.status_code == 200
    return next(
        q["sql"] for q in queries.captured_queries if q["sql"].startswith(f'SELECT "{table}"')
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes and plans")
@pytest.mark.parametrize(
    ("which", "term", "indexes"),
    [
        ("measure", "SYN-0001", {"measure_code_prefix_idx"}),
        ("measure", "privacy", {"measure_title_zh_trgm_idx", "measure_title_en_trgm_idx"}),
        ("measure", "隐私计算", {"measure_title_zh_trgm_idx"}),
        ("evidence", "syn-evidence-0001", {"evidence_key_prefix_idx"}),
        ("evidence", "privacy", {"evidence_claim_zh_trgm_idx", "evidence_claim_en_trgm_idx"}),
        ("evidence", "隐私计算", {"evidence_claim_zh_trgm_idx"}),
    ],
)
def test_an_autocomplete_lookup_is_answered_from_indexes(analyst_client, which, term, indexes):
    """Each condition of the lookup's search has an index that answers it: with sequential
    scans and plain index scans (which walk an index in its order, reading every row) priced
    out, the plan is bitmap scans of those indexes, or it would be a sequential scan. On a
    table as small as a test's, the planner would otherwise read it whole, which is then
    cheaper; at dataset M it picks the indexes by itself (README, Performance)."""
    MeasureFactory(code="SYN-00012", title_en="Promote privacy computing", title_zh="推广隐私计算")
    EvidenceFactory(key="syn-evidence-00012", claim_en="Privacy computing", claim_zh="隐私计算")
    sql = autocomplete_query(analyst_client, which, term)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Seq Scan" not in plan, plan
    assert all(f"Bitmap Index Scan on {index}" in plan for index in indexes), plan


def test_an_autocomplete_lookup_finds_by_code_or_key_beginning_or_a_title_or_claim_word(
    analyst_client,
):
    MeasureFactory(code="3.2", title_zh="推广隐私计算技术", title_en="Promote privacy computing")
    EvidenceFactory(key="fintech_survey_2024", claim_en="Most banks use privacy computing.")
    measures = reverse("admin:autocomplete") + "?app_label=recommendations"
    measures += "&model_name=statusupdate&field_name=measure&term="
    evidence = reverse("admin:autocomplete") + "?app_label=evidence"
    evidence += "&model_name=statusupdateevidence&field_name=evidence&term="

    def texts(url, term):
        return [item["text"] for item in analyst_client.get(url + term).json()["results"]]

    assert texts(measures, "3.") == texts(measures, "隐私计算") == ["3.2 Promote privacy computing"]
    assert texts(measures, ".2") == []
    assert (
        texts(evidence, "fintech")
        == texts(evidence, "BANKS")
        == ["Most banks use privacy computing."]
    )
