"""The working roles, as Django groups whose permissions the admin and the API both check.

- `viewer` reads everything but the API's remembered Idempotency-Keys, and writes nothing.
- `analyst` also records status updates, edits measures' descriptive fields and links,
  creates and edits sources and evidence (but deletes no evidence: history may cite it),
  publishes status reports, reviews proposed status updates (the review app), and imports
  spreadsheets of status updates, seeing everyone's imports (which viewers do not see: they
  are work in progress).
- `reporter` reads as a viewer does (but sees only its own proposals), and proposes status
  updates, citing evidence, for review, one by one or by importing a spreadsheet (seeing
  only its own imports); it records nothing directly.

Superusers may do everything. The groups are rebuilt after every `migrate`, so a new model's
permissions reach them without a manual step.
"""

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Exists

VIEWER = "viewer"
ANALYST = "analyst"
REPORTER = "reporter"
# A user reads the API, as the admin, only with one of these roles (or as a superuser).
ROLES = (VIEWER, ANALYST, REPORTER)

# The review app last: it is installed after the others, so when its permissions exist,
# theirs do too (ensure_groups_after_migrate).
TRACKED_APPS = ("recommendations", "evidence", "intake", "audit", "review")

# Models nobody but a superuser sees: clients' remembered requests and their responses; who
# reports for which institution (access, as group membership is).
PRIVATE_MODELS = {("recommendations", "idempotencykey"), ("review", "reporterinstitution")}
# Models viewers (and reporters) do not see: spreadsheets imported and their rows
# (ANALYST_WRITES gives analysts the view of every import, which shows its rows; a reporter
# sees its own, by `add_import`).
NOT_FOR_VIEWERS = {("intake", "import"), ("intake", "importrow")}

# Beyond viewing everything: (app_label, model) -> actions.
ANALYST_WRITES = {
    ("recommendations", "statusupdate"): ("add",),
    ("recommendations", "measure"): ("change",),
    ("recommendations", "measureinstitution"): ("add", "change", "delete"),
    ("recommendations", "measurerisk"): ("add", "change", "delete"),
    # Publish a status report from the admin (a snapshot is never changed or deleted).
    ("recommendations", "reportsnapshot"): ("publish",),
    ("evidence", "source"): ("add", "change"),
    # Not delete: history may cite a piece of evidence, and what it cited must stay.
    ("evidence", "evidence"): ("add", "change"),
    ("evidence", "evidencefigure"): ("add", "change", "delete"),
    ("evidence", "evidencemeasure"): ("add", "change", "delete"),
    ("evidence", "evidencerisk"): ("add", "change", "delete"),
    ("evidence", "evidencescenario"): ("add", "change", "delete"),
    ("evidence", "evidenceinnovationmechanism"): ("add", "change", "delete"),
    ("evidence", "statusupdateevidence"): ("add",),
    # Review others' proposals; propose, when REVIEW_ANALYST_UPDATES makes their updates
    # proposals too.
    ("review", "proposal"): ("add", "review"),
    # Upload a spreadsheet (its dry run), and confirm it (its rows recorded).
    ("intake", "import"): ("view", "add", "confirm"),
}

# A reporter proposes (and revises or withdraws its own proposals), and sees only its own:
# not `view_proposal`, which is seeing everyone's. Likewise it imports spreadsheets, whose
# rows are proposed (intake.services.route), and sees only its own imports: not `view_import`.
REPORTER_WRITES = {
    ("review", "proposal"): ("add",),
    ("intake", "import"): ("add", "confirm"),
}
REPORTER_HIDDEN = {
    ("review", "proposal"),
    ("review", "proposalevidence"),
    ("review", "proposalrevision"),
    ("review", "proposaldecision"),
}


def ensure_groups() -> None:
    """Create or correct the `viewer`, `analyst` and `reporter` groups' permissions."""
    perms = Permission.objects.filter(content_type__app_label__in=TRACKED_APPS).select_related(
        "content_type"
    )
    by_key = {(p.content_type.app_label, p.codename): p for p in perms}
    view = [
        p
        for (app, codename), p in by_key.items()
        if codename.startswith("view_")
        and (app, codename[len("view_") :]) not in PRIVATE_MODELS | NOT_FOR_VIEWERS
    ]

    def granted(writes: dict) -> list[Permission]:
        return [
            by_key[(app, f"{action}_{model}")]
            for (app, model), actions in writes.items()
            for action in actions
            if (app, f"{action}_{model}") in by_key
        ]

    viewer, _ = Group.objects.get_or_create(name=VIEWER)
    viewer.permissions.set(view)
    analyst, _ = Group.objects.get_or_create(name=ANALYST)
    analyst.permissions.set(view + granted(ANALYST_WRITES))
    reporter, _ = Group.objects.get_or_create(name=REPORTER)
    hidden = {by_key.get((app, f"view_{model}")) for app, model in REPORTER_HIDDEN}
    reporter.permissions.set([p for p in view if p not in hidden] + granted(REPORTER_WRITES))


def ensure_groups_after_migrate(sender, app_config=None, **kwargs) -> None:
    # Permissions are created app by app; the last tracked app is the one that sees them all.
    if app_config is not None and app_config.label == TRACKED_APPS[-1]:
        if apps.is_installed("django.contrib.auth"):
            ensure_groups()


def has_role(user_id) -> Exists:
    """An expression: whether the user `user_id` (an OuterRef, or an id) has a role (ROLES).
    Token authentication folds it into its own query."""
    memberships = get_user_model().groups.through.objects
    return Exists(memberships.filter(user_id=user_id, group__name__in=ROLES))


def user_has_role(user) -> bool:
    """Whether `user` may read: a superuser, or a viewer, an analyst or a reporter. At most
    one query."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=ROLES).exists()
