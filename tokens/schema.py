"""The token scheme as the OpenAPI schema states it: `Authorization: Token <key>`, as before."""

from drf_spectacular.authentication import TokenScheme


class ApiTokenScheme(TokenScheme):
    target_class = "tokens.authentication.ApiTokenAuthentication"
    priority = 0
