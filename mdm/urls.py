"""Four doors, each with its own authentication: the console (session), the admin API
(API tokens or the console's session), the agent API (device credentials), and the employee
portal (session). Plus the public endpoints: health probes and the JWKS."""

from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mdm.views import public

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:dashboard", permanent=False)),
    path("console/", include("mdm.console.urls")),
    path("api/v1/agent/", include("devices.agent_api.urls")),
    path("api/v1/", include("mdm.api.urls")),
    path("api/v1/", include("devices.api.urls")),
    path("api/v1/", include("personas.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(".well-known/jwks.json", public.jwks_view, name="jwks"),
    path("healthz", public.healthz, name="healthz"),
    path("readyz", public.readyz, name="readyz"),
]
