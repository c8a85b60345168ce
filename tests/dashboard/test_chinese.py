"""Every admin page an analyst, a viewer, a reporter or a superuser can open reads in Chinese
in zh-hans: Django's own words included, data (the seed's and the tests' records, in
whichever language they are written) excepted."""

import json
import re
from datetime import date, timedelta
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import polib
import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import models
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from evidence.models import Evidence, EvidenceMeasure
from follows import services as follows
from follows.models import DigestSent
from intake.services import check_file
from recommendations.models import IdempotencyKey, Measure
from recommendations.reports.snapshots import save_report
from recommendations.reports.status import build_status_report
from review import services as review
from tests.conftest import empty_inlines, make_user
from tests.factories import MeasureFactory, RiskFactory
from tests.intake.files import csv_bytes
from tokens.services import create_token
from webhooks import services as webhooks
from webhooks.models import DeliveryAttempt, Subscription

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}

# Words a Chinese page may hold: names of formats and standards, the language switch's
# "English", the users' names.
ALLOWED = {
    "API",
    "JSON",
    "CSV",
    "XLSX",
    "HTML",
    "Markdown",
    "SHA",
    "URL",
    "ETag",
    "English",
    "ana",
    "vic",
    "root",
    "rita",
    # Keys on a keyboard, as Django's help for multiple choices names them.
    "Control",
    "Command",
    "Mac",
    # HTTP methods, and standards a help text names.
    "GET",
    "POST",
    "ISO",
    "LDAP",
    # Text encodings an import names.
    "UTF",
    "GBK",
    # Webhooks: the standard's name and its headers (webhook-id), the protocols a receiver's
    # URL may use, and the prefix of an event's webhook-id (evt_12).
    "Webhook",
    "webhook",
    "HTTP",
    "HTTPS",
    "evt",
}
# A word of three letters or more, not part of a code (a digest's "9ce722aedb8c", "T.1").
WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{3,}(?![A-Za-z0-9])")

# Attributes whose text a person reads (a tooltip, a placeholder, a button's label).
READ_ATTRIBUTES = {"title", "placeholder", "alt", "aria-label"}


class PageText(HTMLParser):
    """The text a person reads on a page: text nodes and read attributes, not scripts, styles
    or the report a snapshot's page frames (stored data, in its own language)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style"}:
            self.skipping += 1
        attrs = dict(attrs)
        self.parts.extend(
            value for name, value in attrs.items() if name in READ_ATTRIBUTES and value
        )
        if tag == "input" and attrs.get("type") in {"submit", "button"} and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in {"script", "style"}:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def page_text(html: str) -> str:
    parser = PageText()
    parser.feed(html)
    return "\n".join(parser.parts)


# Where data lives: the tracker's records, the users and groups, sign-in records. (Not the
# admin's log, whose messages are the admin's words, nor the permissions' names.)
DATA_APPS = {
    "recommendations",
    "evidence",
    "tokens",
    "axes",
    "audit",
    "review",
    "intake",
    "follows",
    "events",
    "webhooks",
}
DATA_MODELS = {"auth.User", "auth.Group"}
NOT_SHOWN = {"recommendations.SeedValue"}


def data_values() -> list[str]:
    """Every free-text value stored (titles, claims, keys, names…) and every record's name as
    the admin writes it: data, in whatever language it was entered. Longest first, so that a
    value is removed before a shorter one inside it."""
    values: set[str] = set()
    for model in apps.get_models():
        label = model._meta.label
        if label in NOT_SHOWN or not (model._meta.app_label in DATA_APPS or label in DATA_MODELS):
            continue
        text_fields = [
            field.attname
            for field in model._meta.concrete_fields
            if isinstance(field, (models.CharField, models.TextField)) and not field.choices
        ]
        for row in model.objects.all():
            values.add(str(row))
            values.update(str(getattr(row, name)) for name in text_fields)
            if label == "audit.Change":  # the values before and after, as stored
                values.update(json_strings(row.changes))
            if label == "intake.ImportRow":  # what a row of an imported file says
                values.update(json_strings(row.values))
            if label == "intake.Import":  # the file's headings, as it writes them
                values.update(json_strings(row.layout))
    # Lists show long values cut short, without an ellipsis (the audit trail's records at
    # 80 characters; cuts that end in one are found by english_words).
    values |= {value[:80] for value in values}
    # Digests show by their first 12 characters (a report snapshot's SHA-256).
    values |= {value[:12] for value in values if re.fullmatch(r"[0-9a-f]{64}", value)}
    return sorted((value for value in values if len(value.strip()) > 1), key=len, reverse=True)


def json_strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in json_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in json_strings(item)]
    return [] if value is None else [str(value)]


# Where a list cuts a long value short: "…", or "..." as Chinese writes it.
ELLIPSIS = re.compile(r"…|\.\.\.")
LONGEST_CUT = 160


def without_cut_values(text: str, data: list[str]) -> str:
    """`text` less the data values a page shows cut short: the longest stretch before each
    ellipsis that begins some value."""
    starts = {value[:n] for value in data for n in range(3, min(len(value), LONGEST_CUT) + 1)}
    for ellipsis in reversed(list(ELLIPSIS.finditer(text))):
        end = ellipsis.start()
        for length in range(min(end, LONGEST_CUT), 2, -1):
            if text[end - length : end] in starts:
                text = text[: end - length] + " " + text[ellipsis.end() :]
                break
    return text


def english_words(html: str, data: list[str]) -> list[str]:
    """Each English word left once data is taken out, with the text around it."""
    text = without_cut_values(page_text(html), data)
    for value in data:
        text = text.replace(value, " ")
    text = re.sub(r"\s+", " ", text)
    return sorted(
        {
            f"{match[0]} in “{text[max(match.start() - 30, 0) : match.end() + 30]}”"
            for match in WORD.finditer(text)
            if match[0] not in ALLOWED
        }
    )


@pytest.fixture
def seeded(django_user_model):
    """The seed, a published report, an API token, a remembered request, a sign-in attempt
    and a change in the admin's log: one record of every kind the admin lists."""
    call_command("load_seed", stdout=StringIO())
    root = django_user_model.objects.create_superuser("root", password="correct horse battery")
    analyst = make_user(django_user_model, "ana", "analyst")
    viewer = make_user(django_user_model, "vic", "viewer")
    save_report(
        report=build_status_report(since=date(2025, 1, 1), until=date(2025, 6, 30)), by=analyst
    )
    create_token(user=analyst, name="dashboard", now=timezone.now())
    now = timezone.now()
    IdempotencyKey.objects.create(
        user=analyst,
        key="k-1",
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
    measure = Measure.objects.order_by("code").first()
    # A spreadsheet with English headings and a row with an error, checked in English.
    spreadsheet = csv_bytes(
        [
            [measure.code, "planned", "10", "2025-06-01", "high", "Plan adopted", ""],
            [measure.code, "stalled", "10", "2025-07-01", "high", "", ""],
        ]
    )
    check_file(data=spreadsheet, filename="updates.csv", by=analyst, channel="admin")
    LogEntry.objects.log_actions(
        user_id=root.pk,
        queryset=[measure],
        action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["priority", "target date"]}}],
        single_object=True,
    )
    # A proposal revised after a request for changes, then approved: its page lists both.
    reporter = make_user(django_user_model, "rita", "reporter")
    proposal = review.propose(
        measure=measure,
        status="in_progress",
        progress=30,
        effective_date=date(2026, 3, 1),
        note="Pilots",
        by=reporter,
        today=date(2026, 6, 30),
    )
    review.request_changes(proposal=proposal, by=analyst, comment="Which banks?")
    review.revise(proposal=proposal, changes={"progress": 40}, by=reporter, today=date(2026, 6, 30))
    review.approve(proposal=proposal, by=analyst, today=date(2026, 6, 30))
    # In the analysts' queue: a proposal revised after a request for changes, citing
    # evidence; another sent back, on its proposer's home page; and one rejected.
    others = list(Measure.objects.order_by("code")[1:4])
    waiting = review.propose(
        measure=others[0],
        status="planned",
        progress=10,
        effective_date=date(2026, 3, 1),
        evidence=[evidence_on(others[0])],
        by=reporter,
        today=date(2026, 6, 30),
    )
    review.request_changes(proposal=waiting, by=analyst, comment="Which plan?")
    review.revise(proposal=waiting, changes={"progress": 15}, by=reporter, today=date(2026, 6, 30))
    for measure, decide in ((others[1], review.request_changes), (others[2], review.reject)):
        sent = review.propose(
            measure=measure,
            status="planned",
            progress=5,
            effective_date=date(2026, 3, 1),
            by=reporter,
            today=date(2026, 6, 30),
        )
        text = (
            {"comment": "Cite the plan"} if decide is review.request_changes else {"reason": "No"}
        )
        decide(proposal=sent, by=analyst, **text)
    # The reporter's own import, whose rows would be proposed.
    check_file(data=spreadsheet, filename="mine.csv", by=reporter, channel="admin")
    # Follows, digest settings and a digest sent for each user, and the digests' next run.
    for user in (root, analyst, viewer, reporter):
        follows.follow(user=user, measure=measure)
        follows.follow(user=user, pillar=measure.pillar)
        DigestSent.objects.create(
            user=user,
            frequency="weekly",
            period_start=date(2026, 6, 22),
            period_end=date(2026, 6, 28),
            state="failed",
            language="zh",
            error="SMTPRecipientsRefused",
        )
    follows.schedule_next_run(now=now)
    # A webhook subscription with a delivery tried once, and the outbox it leaves.
    subscription = webhooks.create_subscription(owner=root, url="http://127.0.0.1:9/in")
    webhooks.fan_out([Event.objects.order_by("id").first()])
    DeliveryAttempt.objects.create(
        delivery=subscription.deliveries.get(),
        attempted_at=now,
        status_code=503,
        duration_ms=4,
        response_body="Service Unavailable",
    )
    return {"root": root, "ana": analyst, "vic": viewer, "rita": reporter}


def evidence_on(measure):
    """A piece of evidence supporting `measure` (the seed's first, linked to it)."""
    evidence = Evidence.objects.order_by("pk").first()
    EvidenceMeasure.objects.get_or_create(
        evidence=evidence, measure=measure, defaults={"stance": "supports"}
    )
    return evidence


def admin_pages(user) -> list[str]:
    """Every page of the admin `user` may open: the home page, each app's page, and for each
    model its list, its add page, and one record's page, history and delete page."""
    request = type("Request", (), {"user": user})()
    pages = [reverse("admin:index"), reverse("admin:password_change")]
    app_labels = set()
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        if not model_admin.has_view_or_change_permission(request):
            continue
        app_labels.add(opts.app_label)
        pages.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            pages.append(reverse(f"{name}_add"))
        first = model_admin.get_queryset(request).first()
        if first is not None:
            pages.append(reverse(f"{name}_change", args=[first.pk]))
            pages.append(reverse(f"{name}_history", args=[first.pk]))
            if model_admin.has_delete_permission(request, first):
                pages.append(reverse(f"{name}_delete", args=[first.pk]))
            if model is Subscription and model_admin.has_change_permission(request, first):
                pages.append(reverse(f"{name}_rotate_secret", args=[first.pk]))
    pages += [reverse("admin:app_list", args=[label]) for label in sorted(app_labels)]
    return pages


@pytest.mark.parametrize("username", ["ana", "vic", "rita", "root"])
def test_every_admin_page_reads_in_chinese(client, seeded, username):
    client.force_login(seeded[username])
    data = data_values()

    found = {}
    for page in admin_pages(seeded[username]):
        response = client.get(page, **ZH)
        assert response.status_code == 200, page
        words = english_words(response.content.decode(), data)
        if words:
            found[page] = words

    assert not found, "English outside data:\n" + "\n".join(
        f"{page}: {word}" for page, words in found.items() for word in words
    )


def test_the_sign_in_page_reads_in_chinese(client, seeded):
    response = client.get(reverse("admin:login"), **ZH)

    assert english_words(response.content.decode(), data_values()) == []


def test_the_admins_scripts_read_in_chinese(analyst_client):
    """The texts Django's admin scripts write (the two-box picker of groups and permissions,
    the calendar…) come from its JavaScript catalogue, which needs every one of them."""
    django_admin = Path(admin.__file__).parent
    sources = polib.pofile(django_admin / "locale" / "en" / "LC_MESSAGES" / "djangojs.po")

    script = analyst_client.get(reverse("admin:jsi18n"), **ZH).content.decode()

    catalog = json.loads(re.search(r"const newcatalog = (\{.*?\});\n", script, re.S)[1])
    keys = [f"{e.msgctxt}\x04{e.msgid}" if e.msgctxt else e.msgid for e in sources]
    assert [key for key in keys if catalog.get(key, key) == key.split("\x04")[-1]] == []
    assert catalog["Choose all %s"] == "选择全部%s"


def test_the_change_log_names_changed_fields_in_the_readers_language(analyst_client):
    measure = MeasureFactory(code="7.1")
    risk = RiskFactory(title_zh="数据安全风险")
    url = reverse("admin:recommendations_measure_change", args=[measure.pk])
    form = analyst_client.get(url).context["adminform"].form
    data = {
        **{k: v for k, v in form.initial.items() if v is not None},
        "priority": "high",
        "target_date": "2027-06-30",
        "scenarios": [],
        **empty_inlines("institution_links", "status_updates"),
        "risk_links-TOTAL_FORMS": 1,
        "risk_links-INITIAL_FORMS": 0,
        "risk_links-0-risk": risk.pk,
        "risk_links-0-rationale_en": "Keeps data at home.",
    }
    assert analyst_client.post(url, data).status_code == 302
    history = reverse("admin:recommendations_measure_history", args=[measure.pk])

    chinese = page_text(analyst_client.get(history, **ZH).content.decode())
    english = page_text(analyst_client.get(history, HTTP_ACCEPT_LANGUAGE="en").content.decode())

    assert "已修改优先级 和 目标日期。" in chinese
    assert "添加了 所缓释的风险“7.1" in chinese
    assert "Changed priority and target date." in english


def test_permissions_are_named_in_the_readers_language(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", password="correct horse battery")
    client.force_login(root)
    group = Group.objects.get(name="analyst")

    page = client.get(reverse("admin:auth_group_change", args=[group.pk]), **ZH)

    text = page.content.decode()
    assert "管理 | 日志记录 | 可增加日志记录" in text
    assert "政策建议 | 状态更新 | 可增加状态更新" in text
    assert "Can add" not in text


def test_a_new_webhook_secret_is_shown_in_chinese(client, seeded):
    client.force_login(seeded["root"])
    subscription = Subscription.objects.get()
    url = reverse("admin:webhooks_subscription_rotate_secret", args=[subscription.pk])

    response = client.post(url, {"version": subscription.version}, **ZH)

    assert response.status_code == 200
    # Only the standard's name and the code that verifies a delivery stay as they are.
    words = {
        found.split(" in ")[0] for found in english_words(response.content.decode(), data_values())
    }
    assert words <= {
        "Standard",
        "Webhooks",
        "standardwebhooks",
        "secret",
        "verify",
        "body",
        "headers",
    }
    assert "之前，每次投递仍会同时用旧密钥签名" in page_text(response.content.decode())
