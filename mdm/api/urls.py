from django.urls import path

from mdm.api import views

urlpatterns = [
    path("organization/", views.OrganizationApi.as_view(), name="organization"),
    path("audit-events/", views.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit-events/export.csv", views.AuditEventExportApi.as_view(), name="audit-event-export"),
    path("audit-events/<int:pk>/", views.AuditEventDetailApi.as_view(), name="audit-event-detail"),
    path("api-tokens/", views.ApiTokenListApi.as_view(), name="api-token-list"),
    path("api-tokens/<uuid:pk>/", views.ApiTokenDetailApi.as_view(), name="api-token-detail"),
]
