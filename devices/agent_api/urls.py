from django.urls import path

from devices.agent_api import views

app_name = "agent"

urlpatterns = [
    path("enroll", views.EnrollApi.as_view(), name="enroll"),
    path("token", views.TokenApi.as_view(), name="token"),
    path("checkin", views.CheckinApi.as_view(), name="checkin"),
    path("unenroll", views.UnenrollApi.as_view(), name="unenroll"),
]
