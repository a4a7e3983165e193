"""The console's own pages (sign-in, organization switcher). The project's URLs (mdm/urls.py)
add each app's console pages to the same `console` namespace."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from mdm.console import members, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("switch-organization/", views.switch_organization, name="switch-organization"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/export.csv", views.audit_export_view, name="audit-export"),
    path("members/", members.members, name="members"),
    path("members/<uuid:pk>/", members.member_change, name="member-change"),
    path("members/invitations/<uuid:pk>/cancel/", members.member_invitation_revoke, name="member-invitation-revoke"),
    path("members/<uuid:pk>/resend-invitation/", members.member_pending_resend, name="member-pending-resend"),
    path("members/<uuid:pk>/revoke-invitation/", members.member_pending_cancel, name="member-pending-revoke"),
    path(
        "members/invitations/<uuid:pk>/resend/", members.member_invitation_resend_view, name="member-invitation-resend"
    ),
    path("invitations/", members.console_invitations, name="invitations"),
    path("invitations/<uuid:pk>/", members.console_invitation_decide, name="invitation-decide"),
    path("api-tokens/", members.api_tokens, name="api-tokens"),
    path("api-tokens/<uuid:pk>/revoke/", members.api_token_revoke_view, name="api-token-revoke"),
    path(
        "invitation/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/set_password.html", success_url=reverse_lazy("console:password-set")
        ),
        name="invitation",
    ),
    path(
        "invitation/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/password_set.html"),
        name="password-set",
    ),
]
