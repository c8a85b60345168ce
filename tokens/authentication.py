from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from . import selectors, services


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`, as with DRF's TokenAuthentication, against hashed keys.

    One query finds the token, its user and whether the user has a role (config.api reads
    `user.has_role` instead of asking again); a second, an UPDATE, notes the use at most once
    every API_TOKEN_LAST_USED_MINUTES. A revoked or expired token, or a deactivated user, is
    a 401.
    """

    keyword = "Token"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send one token: Authorization: Token <key>."))
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = selectors.token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        now = timezone.now()
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This token has been revoked."))
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                _("This token expired on %(date)s; ask for a new one.")
                % {"date": timezone.localtime(token.expires_at).date().isoformat()}
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        services.note_use(token=token, now=now)
        token.user.has_role = token.has_role or token.user.is_superuser
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
