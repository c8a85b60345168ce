from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowsConfig(AppConfig):
    """Who follows which measures, pillars and risks, and the digest each follower gets of
    what changed in them (read from the events app's outbox)."""

    name = "follows"
    verbose_name = _("Follows and digests")
