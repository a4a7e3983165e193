"""Single sign-on: an OpenID Connect provider vouches for an e-mail address; the account must
already exist (invited by an owner) and be active. Sign-ins never create accounts.

The account is bound to the provider's identity (`iss`, `sub`) at its first sign-in
(mdm.services.external_identity_verify): a later sign-in for the same address with another
subject or from another issuer, or with a subject bound to another account, is refused, with
the reason shown on the sign-in page."""

import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from mdm.errors import ServiceError
from mdm.lib.http import client_ip
from mdm.services import external_identity_verify

logger = logging.getLogger(__name__)


class EmailOIDCBackend(OIDCAuthenticationBackend):
    def verify_token(self, token, **kwargs):
        """The library checks the signature and the nonce; the ID token must also be meant for
        us (`aud`) and come from the configured provider (`iss`)."""
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was issued for another client.")
        if payload.get("iss") != settings.OIDC_OP_ISSUER:
            raise SuspiciousOperation("The ID token comes from another issuer.")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """The e-mail comes from the userinfo response, which must describe the ID token's
        subject (OpenID Connect Core 5.3.2): otherwise its claims cannot be trusted for it."""
        claims = super().get_userinfo(access_token, id_token, payload)
        if not payload.get("sub") or claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo response is about another subject than the ID token.")
        return claims

    def filter_users_by_claims(self, claims):
        email = claims.get("email")
        # Only an address the provider says it verified: a missing or string "false" claim is no.
        if not email or claims.get("email_verified") is not True:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=email, is_active=True)

    def get_or_create_user(self, access_token, id_token, payload):
        user = super().get_or_create_user(access_token, id_token, payload)
        if user is None:
            return None
        try:
            external_identity_verify(
                user=user,
                issuer=payload.get("iss", ""),
                subject=payload.get("sub", ""),
                client_ip=client_ip(self.request),
            )
        except ServiceError as exc:
            logger.warning("Single sign-on refused for %s: %s", user.email, exc.code)
            messages.error(self.request, exc.message)
            return None
        return user
