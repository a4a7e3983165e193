from django.urls import path

from devices.api import android, views

urlpatterns = [
    path("enrollment-tokens/", views.EnrollmentTokenListApi.as_view(), name="enrollment-token-list"),
    path("enrollment-tokens/<uuid:pk>/", views.EnrollmentTokenDetailApi.as_view(), name="enrollment-token-detail"),
    path("enrollment-tokens/<uuid:pk>/qr.svg", views.EnrollmentTokenQrApi.as_view(), name="enrollment-token-qr"),
    path("devices/", views.DeviceListApi.as_view(), name="device-list"),
    path("devices/export.csv", views.DeviceExportApi.as_view(), name="device-export"),
    path("devices/<uuid:pk>/", views.DeviceDetailApi.as_view(), name="device-detail"),
    path("devices/<uuid:pk>/commands/", views.DeviceCommandsApi.as_view(), name="device-commands"),
    path("devices/<uuid:pk>/wipes/", views.DeviceWipesApi.as_view(), name="device-wipes"),
    path("devices/<uuid:pk>/wipe-corporate/", views.DeviceWipeApi.as_view(), name="device-wipe"),
    path("devices/<uuid:pk>/lock-corporate/", views.DeviceLockApi.as_view(), name="device-lock"),
    path("devices/<uuid:pk>/unlock-corporate/", views.DeviceUnlockApi.as_view(), name="device-unlock"),
    path("employees/wipe-corporate/", views.EmployeeWipeApi.as_view(), name="employee-wipe"),
    path("wipes/", views.WipeListApi.as_view(), name="wipe-list"),
    path("wipes/<uuid:pk>/approve/", views.WipeDecisionApi.as_view(), name="wipe-approve"),
    path("wipes/<uuid:pk>/cancel/", views.WipeCancelApi.as_view(), name="wipe-cancel"),
    path("pushes/<uuid:pk>/", views.PushDetailApi.as_view(), name="push-detail"),
    path("pushes/<uuid:pk>/results.csv", views.PushResultExportApi.as_view(), name="push-results-export"),
    path("android/enterprise/", android.AndroidEnterpriseApi.as_view(), name="android-enterprise"),
    path("android/enterprise/signup/", android.AndroidSignupApi.as_view(), name="android-signup"),
    path("android/enterprise/connect/", android.AndroidConnectApi.as_view(), name="android-connect"),
]
