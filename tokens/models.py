from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    """One API token of a user. The secret itself is never stored: only `prefix`, the public
    part that finds the row, and `digest`, the SHA-256 of the whole key (tokens.keys).

    Rows are kept after revocation or expiry, so that the list says who had which token when.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    digest = models.CharField(_("digest"), max_length=64, editable=False)  # hex SHA-256
    created_at = models.DateTimeField(_("created at"), editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    # Written at most once every API_TOKEN_LAST_USED_MINUTES per token (tokens.authentication).
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]
        constraints = [
            # `revoke_api_token --name` must name one token: a name is unique among a user's
            # tokens that are not revoked.
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=Q(revoked_at__isnull=True),
                name="%(app_label)s_%(class)s_live_name_unique",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="%(app_label)s_%(class)s_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
