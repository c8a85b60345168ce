"""Writes: following and unfollowing, digest settings, and sending digests, each period's
at most once (README, "Follows and digests")."""

import logging
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from recommendations.services import StaleVersion

from .choices import DigestState, Language
from .digest import build_digest, digest_message
from .models import DigestRun, DigestSent, DigestSettings, Follow
from .periods import Period, next_run
from .selectors import Recipient, due_recipients

logger = logging.getLogger(__name__)

# The fields of DigestSettings a user changes.
SETTINGS_FIELDS = ("frequency", "language", "weekday", "email")
# How long the planned runs are remembered (they only need to outlive the next one).
RUNS_KEPT = timedelta(days=7)


def default_language(language: str | None = None) -> str:
    """The digest language for a Django language code (the request's, when the user acts in
    the admin or the API), else for settings.LANGUAGE_CODE."""
    return Language.of(language)


def ensure_digest_settings(*, user, language: str | None = None) -> DigestSettings:
    """The user's digest settings, made with the defaults (weekly, on Mondays, in `language`:
    the Django language code the user is working in) when there are none yet."""
    row, _created = DigestSettings.objects.get_or_create(
        user=user, defaults={"language": default_language(language)}
    )
    return row


def check_follow(*, user, measure=None, pillar=None, risk=None) -> None:
    """Raise ValidationError unless exactly one target is named and `user` does not follow it
    yet."""
    targets = {"measure": measure, "pillar": pillar, "risk": risk}
    named = {name: value for name, value in targets.items() if value is not None}
    if len(named) != 1:
        raise ValidationError(_("Follow exactly one measure, pillar or risk."))
    [(name, value)] = named.items()
    if Follow.objects.filter(user=user, **{name: value}).exists():
        raise ValidationError({name: _("You already follow it.")})


@transaction.atomic
def follow(*, user, measure=None, pillar=None, risk=None, language: str | None = None) -> Follow:
    """`user` follows one measure, pillar or risk. Their digest settings are made with the
    defaults if they have none, so that following is enough to get a weekly digest.

    Raises ValidationError, writing nothing, for no target or several, or one followed already.
    """
    check_follow(user=user, measure=measure, pillar=pillar, risk=risk)
    row = Follow(user=user, measure=measure, pillar=pillar, risk=risk)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # followed by a concurrent request in between
        raise ValidationError(_("You already follow it.")) from None
    ensure_digest_settings(user=user, language=language)
    return row


def unfollow(*, follow: Follow) -> None:
    """Stop following: later digests leave the target out."""
    follow.delete()


def unsaved_digest_settings(*, user, language: str | None = None) -> DigestSettings:
    """The defaults a user's settings would be made with, unsaved (version 0)."""
    return DigestSettings(user=user, language=default_language(language), version=0)


@transaction.atomic
def update_digest_settings(
    *,
    user,
    changes: dict,
    expected_version: int | None = None,
    language: str | None = None,
) -> DigestSettings:
    """Change the user's digest settings (any of SETTINGS_FIELDS), making them first if need
    be (version 0 stands for settings not made yet).

    Raises StaleVersion when `expected_version` is not the current one, ValidationError for a
    value the model refuses; either way nothing is written."""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Not a digest setting: {', '.join(sorted(unknown))}")
    existing = (
        DigestSettings.objects.select_for_update().select_related("user").filter(user=user).first()
    )
    current = existing or unsaved_digest_settings(user=user, language=language)
    if expected_version is not None and expected_version != current.version:
        raise StaleVersion(record=current, expected=expected_version)
    row = existing or ensure_digest_settings(user=user, language=language)
    changed = {name: value for name, value in changes.items() if getattr(row, name) != value}
    if not changed:
        return row
    for name, value in changed.items():
        setattr(row, name, value)
    row.version = current.version + 1  # 1 for settings made by this change
    row.updated_at = timezone.now()
    row.full_clean()
    row.save()
    return row


# Sending


def claim_digest(*, recipient: Recipient, now: datetime) -> DigestSent | None:
    """The recipient's digest row for the period, claimed for sending; None when it is not
    ours to send: sent already, found empty, being sent, or failed too often.

    The claim is an INSERT under the unique (user, frequency, period start), committed before
    anything is sent: of two workers, the second's INSERT waits for the first's commit and
    then fails, so it sends nothing. A failed attempt is taken over by one UPDATE conditioned
    on what was read, which one worker alone can win."""
    row, period = recipient.settings, recipient.period
    claim = recipient.claim
    if claim is None:
        try:
            with transaction.atomic():
                return DigestSent.objects.create(
                    user_id=row.user_id,
                    frequency=period.frequency,
                    period_start=period.start,
                    period_end=period.end,
                    state=DigestState.SENDING,
                    claimed_at=now,
                    language=row.language,
                    email=row.address,
                )
        except IntegrityError:
            claim = DigestSent.objects.filter(
                user_id=row.user_id, frequency=period.frequency, period_start=period.start
            ).first()
    if (
        claim is None
        or claim.state != DigestState.FAILED
        or claim.attempts >= settings.DIGEST_MAX_ATTEMPTS
    ):
        return None
    taken = DigestSent.objects.filter(
        pk=claim.pk, state=DigestState.FAILED, attempts=claim.attempts
    ).update(
        state=DigestState.SENDING,
        attempts=claim.attempts + 1,
        claimed_at=now,
        error="",
        language=row.language,
        email=row.address,
    )
    return DigestSent.objects.get(pk=claim.pk) if taken else None


def finish_digest(claim: DigestSent, state: str, **fields) -> None:
    DigestSent.objects.filter(pk=claim.pk).update(state=state, **fields)


def send_digest(*, recipient: Recipient, today: date, now: datetime, connection=None) -> str:
    """Claim, build and send the recipient's digest of its period; the outcome: a
    DigestState, or "skipped" when it was not ours to send (claim_digest) or has no address.

    At most once: the claim is committed before the message goes, so a worker that dies
    while sending leaves the row `sending`, never sent again. A refusal the mail backend
    reports (an exception) marks it `failed`, tried again by later runs while the period is
    still the latest, up to DIGEST_MAX_ATTEMPTS times. Nothing to say: no e-mail, the row
    says `empty`."""
    row = recipient.settings
    if not row.address:
        return "skipped"
    claim = claim_digest(recipient=recipient, now=now)
    if claim is None:
        return "skipped"
    try:
        digest = build_digest(user=row.user, period=recipient.period, today=today)
        if digest.empty:
            finish_digest(claim, DigestState.EMPTY)
            return DigestState.EMPTY
        message = digest_message(digest, language=row.language, to=row.address)
        message.connection = connection
        message.send()
    except Exception as error:  # the mail server's refusal, or anything else: tried again
        logger.exception("Digest %s for %s failed", claim.pk, row.user)
        finish_digest(claim, DigestState.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
        return DigestState.FAILED
    finish_digest(claim, DigestState.SENT, sent_at=timezone.now(), changes=digest.changes)
    return DigestState.SENT


def send_due_digests(
    *,
    today: date,
    now: datetime | None = None,
    frequency: str | None = None,
    progress: Callable[[Recipient, str], None] | None = None,
) -> Counter:
    """Send every digest due on `today` (selectors.due_recipients) that has not gone yet,
    over one connection to the mail server; how many ended in each outcome. `progress` is
    called after each recipient."""
    now = now or timezone.now()
    outcomes = Counter()
    recipients = due_recipients(today=today, frequency=frequency)
    pending = [r for r in recipients if may_send(r.claim)]
    if len(pending) < len(recipients):
        outcomes["skipped"] += len(recipients) - len(pending)
    if not pending:
        return outcomes
    connection = mail.get_connection()
    try:
        connection.open()
    except Exception:  # each message tries again, and is marked failed if it cannot go
        logger.exception("The mail server cannot be reached")
    try:
        for recipient in pending:
            outcome = send_digest(recipient=recipient, today=today, now=now, connection=connection)
            outcomes[str(outcome)] += 1
            if progress is not None:
                progress(recipient, outcome)
    finally:
        connection.close()
    return outcomes


def may_send(claim: DigestSent | None) -> bool:
    """Whether a period with this claim (None: none yet) may still be sent."""
    return claim is None or (
        claim.state == DigestState.FAILED and claim.attempts < settings.DIGEST_MAX_ATTEMPTS
    )


# Scheduling


def schedule_next_run(*, now: datetime) -> DigestRun | None:
    """Plan the task that sends due digests for the next hour boundary (plus periods.SETTLE)
    after `now`; None when that run is planned already.

    The run is claimed by its unique `run_at` in the transaction that enqueues the task (with
    the database backend the task's row is in the same transaction): however many runs,
    workers or starts try, one task is planned per hour, so one chain goes on. Planned runs
    older than RUNS_KEPT are forgotten."""
    from .tasks import send_due_digests as task  # here: the tasks module imports this one

    run_at = next_run(now)
    try:
        with transaction.atomic():
            run = DigestRun.objects.create(run_at=run_at, enqueued_at=now)
            result = task.using(run_after=run_at).enqueue()
            run.task_id = str(result.id)
            run.save(update_fields=["task_id"])
    except IntegrityError:
        return None
    DigestRun.objects.filter(run_at__lt=now - RUNS_KEPT).delete()
    return run


def period_label(period: Period) -> str:
    if period.start == period.end:
        return period.start.isoformat()
    return f"{period.start.isoformat()} – {period.end.isoformat()}"
