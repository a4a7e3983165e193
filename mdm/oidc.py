"""Single sign-on: an OpenID Connect provider vouches for an e-mail address; the account must
already exist (invited by an owner) and be active. Sign-ins never create accounts."""

from mozilla_django_oidc.auth import OIDCAuthenticationBackend


class EmailOIDCBackend(OIDCAuthenticationBackend):
    def filter_users_by_claims(self, claims):
        email = claims.get("email")
        if not email or claims.get("email_verified") is False:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=email, is_active=True)
