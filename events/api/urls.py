from django.urls import path

from events.api import views

urlpatterns = [
    path("event-destinations/", views.EventDestinationListApi.as_view(), name="event-destination-list"),
    path("event-destinations/<uuid:pk>/", views.EventDestinationDetailApi.as_view(), name="event-destination-detail"),
    path(
        "event-destinations/<uuid:pk>/replay/",
        views.EventDestinationReplayApi.as_view(),
        name="event-destination-replay",
    ),
    path(
        "event-destinations/<uuid:pk>/deliveries/",
        views.EventDestinationDeliveriesApi.as_view(),
        name="event-destination-deliveries",
    ),
    path(
        "event-destinations/<uuid:pk>/rotate-secret/",
        views.EventDestinationRotateSecretApi.as_view(),
        name="event-destination-rotate-secret",
    ),
]
