"""A user's digest of one period: build_digest() gathers what changed in what they follow
(and, for analysts, what is due for reassessment or overdue) into a dataclass; render_digest()
writes it as an e-mail in the user's language, plain text and HTML.

Building costs the same few queries whatever the number of follows and events: the events,
the status updates' previous entries, and for analysts the measures' states."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from events.choices import EventType
from recommendations import attention
from recommendations.choices import Status
from recommendations.roles import ANALYST
from recommendations.selectors import live_measure_states
from recommendations.text import localized, prefers_chinese
from review.choices import ProposalState

from .choices import DJANGO_LANGUAGE, Frequency
from .periods import Period
from .selectors import digest_events, followed_measures, status_moves

# The kinds of attention a digest lists for analysts (recommendations.attention.KINDS), and
# how many measures of each it names (the rest are a link away).
ATTENTION_KINDS = ("reassessment_due", "overdue")
ATTENTION_ITEMS = 20


@dataclass(frozen=True)
class StatusChange:
    """A status update recorded in the period, and the entry before it in history."""

    effective_date: date
    from_status: str | None
    from_progress: int | None
    to_status: str
    to_progress: int | None
    note: str


@dataclass(frozen=True)
class MeasureNews:
    pk: int
    code: str
    title_zh: str
    title_en: str
    created: bool = False
    edits: int = 0  # times its details were changed
    status_changes: list[StatusChange] = field(default_factory=list)
    decisions: list[tuple[str, str]] = field(default_factory=list)  # (proposal state, status)


@dataclass(frozen=True)
class PillarNews:
    number: int
    title_zh: str
    title_en: str
    measures: list[MeasureNews]


@dataclass(frozen=True)
class AttentionItem:
    pk: int
    code: str
    title_zh: str
    title_en: str
    status: str
    status_effective_date: date | None
    target_date: date | None


@dataclass(frozen=True)
class AttentionList:
    kind: str  # a key of recommendations.attention.KINDS
    count: int
    items: list[AttentionItem]  # the first ATTENTION_ITEMS


@dataclass(frozen=True)
class Digest:
    username: str
    period: Period
    day: date  # the day it is written for, which attention is judged on
    changes: int  # events listed
    pillars: list[PillarNews]
    attention: list[AttentionList]  # empty for anyone but analysts

    @property
    def empty(self) -> bool:
        return not self.pillars and not any(block.count for block in self.attention)


def sees_attention(user) -> bool:
    """Analysts (and superusers) reassess measures: their digest lists what is due. At most
    one query."""
    return user.is_superuser or user.groups.filter(name=ANALYST).exists()


def build_digest(*, user, period: Period, today: date) -> Digest:
    """What changed in `period` in what `user` follows, by pillar and measure (in number and
    code order), and for analysts the followed measures due for reassessment or overdue on
    `today`."""
    events = list(digest_events(user=user, period=period))
    moves = status_moves(
        [e.payload["id"] for e in events if e.type == EventType.STATUS_UPDATE_RECORDED]
    )
    news: dict[int, dict] = {}
    pillars = {}
    for event in events:
        measure = event.measure
        pillars[measure.pillar_id] = measure.pillar
        entry = news.setdefault(
            measure.pk,
            {"measure": measure, "created": False, "edits": 0, "changes": [], "decisions": []},
        )
        if event.type == EventType.STATUS_UPDATE_RECORDED:
            move = moves[event.payload["id"]]  # history is append-only: the entry is there
            entry["changes"].append(
                StatusChange(
                    move.effective_date,
                    move.from_status,
                    move.from_progress,
                    move.status,
                    move.progress,
                    event.payload.get("note", ""),
                )
            )
        elif event.type == EventType.PROPOSAL_DECIDED:
            entry["decisions"].append((event.payload["state"], event.payload["status"]))
        elif event.payload.get("created"):
            entry["created"] = True
        else:
            entry["edits"] += 1
    by_pillar = defaultdict(list)
    for entry in sorted(news.values(), key=lambda e: e["measure"].code):
        measure = entry["measure"]
        by_pillar[measure.pillar_id].append(
            MeasureNews(
                measure.pk,
                measure.code,
                measure.title_zh,
                measure.title_en,
                created=entry["created"],
                edits=entry["edits"],
                status_changes=entry["changes"],
                decisions=entry["decisions"],
            )
        )
    return Digest(
        username=user.get_username(),
        period=period,
        day=today,
        changes=len(events),
        pillars=[
            PillarNews(pillar.number, pillar.title_zh, pillar.title_en, by_pillar[pillar.pk])
            for pillar in sorted(pillars.values(), key=lambda p: p.number)
        ],
        attention=attention_lists(user, today) if sees_attention(user) else [],
    )


def attention_lists(user, today: date) -> list[AttentionList]:
    """The followed measures due for reassessment, and those overdue, on `today`: the home
    page's rules (recommendations.attention) over the home page's read. Two queries."""
    followed = set(followed_measures(user).values_list("pk", flat=True))
    found = {kind: [] for kind in ATTENTION_KINDS}
    for state in live_measure_states():
        if state.pk in followed:
            for kind in attention.kinds_of(state, today) & set(ATTENTION_KINDS):
                found[kind].append(
                    AttentionItem(
                        state.pk,
                        state.code,
                        state.title_zh,
                        state.title_en,
                        state.status,
                        state.status_effective_date,
                        state.target_date,
                    )
                )
    return [
        AttentionList(kind, len(found[kind]), found[kind][:ATTENTION_ITEMS])
        for kind in ATTENTION_KINDS
    ]


# Rendering


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_URL}{path}"


def measure_link(pk: int) -> str:
    return absolute(reverse("admin:recommendations_measure_change", args=[pk]))


def state_text(status: str | None, progress: int | None) -> str:
    if status is None:
        return _("no entry")
    label = str(Status(status).label)
    if progress is None:
        return label
    return _("%(status)s (%(progress)s%%)") % {"status": label, "progress": progress}


def measure_lines(entry: MeasureNews) -> list[str]:
    lines = []
    if entry.created:
        lines.append(_("Added to the tracker."))
    for change in entry.status_changes:
        lines.append(
            _("%(date)s: %(from)s → %(to)s")
            % {
                "date": change.effective_date.isoformat(),
                "from": state_text(change.from_status, change.from_progress),
                "to": state_text(change.to_status, change.to_progress),
            }
        )
    for state, status in entry.decisions:
        lines.append(
            _("Proposed update to “%(status)s”: %(decision)s")
            % {"status": Status(status).label, "decision": ProposalState(state).label}
        )
    if entry.edits:
        lines.append(
            ngettext("Details edited once.", "Details edited %(count)d times.", entry.edits)
            % {"count": entry.edits}
        )
    return lines


def attention_detail(item: AttentionItem) -> str:
    """Its status, when it was last assessed and its target date, in the reader's words."""
    parts = [state_text(item.status, None)]
    if item.status_effective_date:
        parts.append(_("last assessed %(day)s") % {"day": item.status_effective_date.isoformat()})
    if item.target_date:
        parts.append(_("target %(day)s") % {"day": item.target_date.isoformat()})
    return ("，" if prefers_chinese() else ", ").join(parts)


def subject(digest: Digest) -> str:
    period = digest.period
    if period.frequency == Frequency.DAILY:
        return _("Policy tracker: what changed on %(day)s") % {"day": period.start.isoformat()}
    return _("Policy tracker: what changed from %(start)s to %(end)s") % {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }


def digest_context(digest: Digest) -> dict:
    """What the templates lay out, its words in the active language."""
    kinds = {kind.key: kind.label for kind in attention.KINDS}
    changelist = reverse("admin:recommendations_measure_changelist")
    return {
        "subject": subject(digest),
        "digest": digest,
        "pillars": [
            {
                "number": pillar.number,
                "title": localized(pillar, "title"),
                "measures": [
                    {
                        "code": entry.code,
                        "title": localized(entry, "title"),
                        "link": measure_link(entry.pk),
                        "lines": measure_lines(entry),
                    }
                    for entry in pillar.measures
                ],
            }
            for pillar in digest.pillars
        ],
        "attention": [
            {
                "heading": _("%(label)s (%(count)s)")
                % {"label": kinds[block.kind], "count": block.count},
                "more": block.count - len(block.items),
                "link": absolute(f"{changelist}?{urlencode({'attention': block.kind})}"),
                "items": [
                    {
                        "code": item.code,
                        "title": localized(item, "title"),
                        "link": measure_link(item.pk),
                        "detail": attention_detail(item),
                    }
                    for item in block.items
                ],
            }
            for block in digest.attention
            if block.count
        ],
        "colon": "：" if prefers_chinese() else ": ",
        "settings_link": absolute(reverse("admin:follows_digestsettings_changelist")),
        "follows_link": absolute(reverse("admin:follows_follow_changelist")),
    }


def render_digest(digest: Digest, language: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the digest in `language` (zh or en)."""
    with translation.override(DJANGO_LANGUAGE[language]):
        context = digest_context(digest)
        context["html_lang"] = "zh-Hans" if language == "zh" else "en"
        return (
            context["subject"],
            render_to_string("follows/digest.txt", context),
            render_to_string("follows/digest.html", context),
        )


def digest_message(digest: Digest, *, language: str, to: str) -> EmailMultiAlternatives:
    """The digest as an e-mail to `to`: plain text, with the HTML as an alternative."""
    title, text, html = render_digest(digest, language)
    message = EmailMultiAlternatives(
        subject=title, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
    )
    message.attach_alternative(html, "text/html")
    return message
