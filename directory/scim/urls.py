"""/scim/v2/: the identity provider's door (RFC 7644 endpoints, no trailing slashes)."""

from django.urls import path, re_path

from directory.scim import views

app_name = "scim"

urlpatterns = [
    path("Users", views.UsersView.as_view(), name="users"),
    path("Users/<str:pk>", views.UsersView.as_view(), name="user"),
    path("Groups", views.GroupsView.as_view(), name="groups"),
    path("Groups/<str:pk>", views.GroupsView.as_view(), name="group"),
    path("ServiceProviderConfig", views.ServiceProviderConfigView.as_view(), name="service-provider-config"),
    path("ResourceTypes", views.ResourceTypesView.as_view(), name="resource-types"),
    path("ResourceTypes/<str:name>", views.ResourceTypesView.as_view(), name="resource-type"),
    path("Schemas", views.SchemasView.as_view(), name="schemas"),
    path("Schemas/<str:schema_id>", views.SchemasView.as_view(), name="schema"),
    # Anything else under the base URL: a SCIM 404, not the site's page.
    re_path(r"^.*$", views.not_found),
]
