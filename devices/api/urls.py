from django.urls import path

from devices.api import views

urlpatterns = [
    path("enrollment-tokens/", views.EnrollmentTokenListApi.as_view(), name="enrollment-token-list"),
    path("enrollment-tokens/<uuid:pk>/", views.EnrollmentTokenDetailApi.as_view(), name="enrollment-token-detail"),
    path("enrollment-tokens/<uuid:pk>/qr.svg", views.EnrollmentTokenQrApi.as_view(), name="enrollment-token-qr"),
    path("devices/", views.DeviceListApi.as_view(), name="device-list"),
    path("devices/<uuid:pk>/", views.DeviceDetailApi.as_view(), name="device-detail"),
    path("devices/<uuid:pk>/commands/", views.DeviceCommandsApi.as_view(), name="device-commands"),
    path("pushes/<uuid:pk>/", views.PushDetailApi.as_view(), name="push-detail"),
]
