"""How the admin API recognises its callers: an API token (`Bearer mdmat_...`) or the console's
session (with CSRF)."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from mdm.services import API_TOKEN_PREFIX, api_token_lookup


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip().startswith(API_TOKEN_PREFIX):
            return None  # not ours (an agent's access token is handled by the agent API)
        api_token = api_token_lookup(token.strip())
        if api_token is None:
            raise exceptions.AuthenticationFailed("The API token is unknown, expired or revoked.")
        return api_token.user, api_token

    def authenticate_header(self, request):
        return 'Bearer error="invalid_token"'


class ConsoleSessionAuthentication(authentication.SessionAuthentication):
    """The console's own calls: Django's session, CSRF enforced."""
