from django.urls import path

from devices.agent_api import longpoll, views

app_name = "agent"

# The long poll is a plain async view; the OpenAPI generator learns its shape from this class.
setattr(longpoll.commands_view, "cls", views.CommandsSchemaOnly)  # noqa: B010  (a function's attribute)
setattr(longpoll.commands_view, "initkwargs", {})  # noqa: B010

urlpatterns = [
    path("enroll", views.EnrollApi.as_view(), name="enroll"),
    path("token", views.TokenApi.as_view(), name="token"),
    path("checkin", views.CheckinApi.as_view(), name="checkin"),
    path("unenroll", views.UnenrollApi.as_view(), name="unenroll"),
    path("signing-key", views.SigningKeyApi.as_view(), name="signing-key"),
    path("policy", views.PolicyApi.as_view(), name="policy"),
    path("container-key", views.ContainerKeyApi.as_view(), name="container-key"),
    path("commands", longpoll.commands_view, name="commands"),
    path("commands/<uuid:pk>/result", views.CommandResultApi.as_view(), name="command-result"),
    path("schema/policy-v1.json", views.PolicySchemaApi.as_view(), name="policy-schema"),
]
