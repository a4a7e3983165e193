"""Single sign-on: an OpenID Connect provider vouches for an e-mail address; the account must
already exist (invited by an owner) and be active. Sign-ins never create accounts."""

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend


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

    def filter_users_by_claims(self, claims):
        email = claims.get("email")
        # Only an address the provider says it verified: a missing or string "false" claim is no.
        if not email or claims.get("email_verified") is not True:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=email, is_active=True)
