"""URLs for error tests: the real ones, plus views that crash."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class CrashApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internal detail /srv/app/settings.py")


def crash_plain(request):
    raise KeyError("secret internal detail")


urlpatterns = [
    path("api/v1/test-crash/", CrashApi.as_view()),
    path("api/v1/test-crash-plain/", crash_plain),
    path("", include("mdm.urls")),
]
