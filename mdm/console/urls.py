"""The console's own pages (sign-in, organization switcher). The project's URLs (mdm/urls.py)
add each app's console pages to the same `console` namespace."""

from django.urls import path

from mdm.console import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("switch-organization/", views.switch_organization, name="switch-organization"),
    path("audit/", views.audit_log, name="audit"),
]
