from django.urls import path

from mdm.console import views

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("switch-organization/", views.switch_organization, name="switch-organization"),
]
