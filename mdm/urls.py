"""Four doors, each with its own authentication: the console (session), the admin API
(API tokens or the console's session), the agent API (device credentials), and the employee
portal (session). Plus the identity provider's SCIM provisioning (its SCIM token), Google's
Pub/Sub pushes (Google's ID token) and the public endpoints: health probes and the JWKS."""

from django.conf import settings
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from devices import bulk_views as device_bulk_pages
from devices import enrollment_pages
from devices import portal as device_portal
from devices import signing_keys_views as signing_key_pages
from devices import views as device_pages
from devices.android import pubsub as android_pubsub
from directory import views as directory_pages
from directory.scim import urls as scim_urls
from events import views as event_pages
from mdm import metrics
from mdm.console import error_pages, members
from mdm.console.urls import urlpatterns as console_auth
from mdm.views import public
from personas import views as persona_pages

console = [
    *console_auth,
    path("", device_pages.dashboard, name="dashboard"),
    path("devices/", device_pages.device_list, name="devices"),
    path("devices/export.csv", device_pages.device_export_view, name="devices-export"),
    path("devices/bulk/", device_bulk_pages.device_bulk, name="devices-bulk"),
    path("devices/views/", device_pages.saved_view_create_view, name="device-views"),
    path("devices/views/<uuid:pk>/delete/", device_pages.saved_view_delete_view, name="device-view-delete"),
    path("devices/<uuid:pk>/", device_pages.device_detail, name="device"),
    path("devices/<uuid:pk>/wipe-status/", device_pages.device_wipe_status, name="device-wipe-status"),
    path("devices/<uuid:pk>/lock/", device_pages.device_lock, {"lock": True}, name="device-lock"),
    path("devices/<uuid:pk>/unlock/", device_pages.device_lock, {"lock": False}, name="device-unlock"),
    path("devices/<uuid:pk>/wipe/", device_pages.device_wipe, name="device-wipe"),
    path("wipes/", device_pages.wipes, name="wipes"),
    path("wipes/<uuid:pk>/approve/", device_pages.wipe_decide, {"approve": True}, name="wipe-approve"),
    path("wipes/<uuid:pk>/cancel/", device_pages.wipe_decide, {"approve": False}, name="wipe-cancel"),
    path("wipes/employee/", device_pages.employee_wipe_view, name="employee-wipe"),
    path("enrollment/", device_pages.enrollment_tokens, name="enrollment"),
    path("personas/", persona_pages.persona_list, name="personas"),
    path("personas/<uuid:pk>/", persona_pages.persona_edit, name="persona"),
    path("personas/<uuid:pk>/preview/", persona_pages.persona_preview, name="persona-preview"),
    path("personas/<uuid:pk>/android-policy/", persona_pages.persona_android_policy, name="persona-android-policy"),
    path("pushes/<uuid:pk>/results.csv", device_pages.push_result_export_view, name="push-results-export"),
    path("pushes/<uuid:pk>/progress/", persona_pages.push_progress_view, name="push-progress"),
    path("enrollment/<uuid:pk>/revoke/", device_pages.enrollment_token_revoke_view, name="enrollment-revoke"),
    path("android/", device_pages.android_enterprise, name="android"),
    path("android/connect/", device_pages.android_connect, name="android-connect"),
    path("android/callback/", device_pages.android_callback, name="android-callback"),
    path("android/disconnect/", device_pages.android_disconnect, name="android-disconnect"),
    path("signing-keys/", signing_key_pages.signing_keys, name="signing-keys"),
    path("event-destinations/", event_pages.destination_list, name="event-destinations"),
    path("event-destinations/<uuid:pk>/", event_pages.destination_detail, name="event-destination"),
    path("event-destinations/<uuid:pk>/replay/", event_pages.destination_replay, name="event-destination-replay"),
    path("event-destinations/<uuid:pk>/test/", event_pages.destination_test, name="event-destination-test"),
    path("event-destinations/<uuid:pk>/toggle/", event_pages.destination_toggle, name="event-destination-toggle"),
    path(
        "event-destinations/<uuid:pk>/rotate-secret/",
        event_pages.destination_rotate_secret,
        name="event-destination-rotate-secret",
    ),
    path("event-destinations/<uuid:pk>/delete/", event_pages.destination_delete, name="event-destination-delete"),
    path("signing-keys/<str:kid>/retire/", signing_key_pages.signing_key_retire_view, name="signing-key-retire"),
    path("identity-provider/", directory_pages.identity_provider, name="identity-provider"),
    path("identity-provider/tokens/", directory_pages.scim_token_create_view, name="scim-token-create"),
    path(
        "identity-provider/tokens/<uuid:pk>/revoke/", directory_pages.scim_token_revoke_view, name="scim-token-revoke"
    ),
    path("identity-provider/offboarding/", directory_pages.offboarding_view, name="identity-provider-offboarding"),
    path("identity-provider/groups/<uuid:pk>/", directory_pages.group_map_view, name="identity-provider-group"),
    path("enrollment/<uuid:pk>/", enrollment_pages.enrollment_token_detail, name="enrollment-token"),
    path("enrollment/<uuid:pk>/print/", enrollment_pages.enrollment_token_print, name="enrollment-print"),
    path(
        "enrollment/<uuid:pk>/qr.png", enrollment_pages.enrollment_token_qr, {"kind": "png"}, name="enrollment-qr-png"
    ),
    path(
        "enrollment/<uuid:pk>/qr.svg", enrollment_pages.enrollment_token_qr, {"kind": "svg"}, name="enrollment-qr-svg"
    ),
    path("enrollment/<uuid:pk>/send/", enrollment_pages.enrollment_token_send, name="enrollment-send"),
]

portal = [
    path("", device_portal.home, name="home"),
    path("login/", device_portal.PortalLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="portal:login"), name="logout"),
    path("enroll/", device_portal.enroll, name="enroll"),
    path("switch-organization/", device_portal.switch_organization, name="switch-organization"),
    path("invitations/", members.portal_invitations, name="invitations"),
    path("invitations/<uuid:pk>/", members.portal_invitation_decide, name="invitation-decide"),
    path("enroll/<uuid:pk>/status/", device_portal.enroll_status, name="enroll-status"),
    path("devices/<uuid:pk>/", device_portal.device_detail, name="device"),
    path("devices/<uuid:pk>/remove/", device_portal.remove_work_persona, name="remove"),
    path("devices/<uuid:pk>/lost/", device_portal.report_lost, name="lost"),
    path("devices/<uuid:pk>/rename/", device_portal.rename_device, name="rename"),
    path("invitation/<uidb64>/<token>/", members.PortalInvitationView.as_view(), name="invitation"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:dashboard", permanent=False)),
    path("console/", include((console, "console"))),
    path("portal/", include((portal, "portal"))),
    path("api/v1/agent/", include("devices.agent_api.urls")),
    path("api/v1/", include("mdm.api.urls")),
    path("api/v1/", include("devices.api.urls")),
    path("api/v1/", include("personas.api.urls")),
    path("api/v1/", include("events.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # The identity provider's door: SCIM 2.0 provisioning (its own bearer tokens, no session).
    path("scim/v2/", include(scim_urls)),
    path(".well-known/jwks.json", public.jwks_view, name="jwks"),
    path("healthz", public.healthz, name="healthz"),
    path("readyz", public.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # Google's door: Pub/Sub pushes of Android Management API notifications (their own ID token).
    path("android/pubsub/", android_pubsub.pubsub_push, name="android-pubsub"),
    # Browsers ask for it whatever the page's <link rel="icon"> says (feed readers, bookmarks).
    path("favicon.ico", public.favicon, name="favicon"),
]

handler404 = error_pages.page_not_found
handler403 = error_pages.permission_denied
handler500 = error_pages.server_error

if settings.OIDC_RP_CLIENT_ID:
    # Single sign-on, only when a provider is configured (the portal shows its button then).
    urlpatterns.append(path("oidc/", include("mozilla_django_oidc.urls")))
