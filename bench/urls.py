"""The server's URLs plus a bare DRF "hello" view: the baseline of bench/checkin.py (POST) and
bench/console.py (GET)."""

from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class HelloApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"hello": "world"})

    def post(self, request):
        return Response({"hello": "world"})


urlpatterns = [
    # On the agent API's path (the lean path, as a check-in), and through the console's middleware.
    path("api/v1/agent/bench-hello", HelloApi.as_view()),
    path("bench/hello", HelloApi.as_view()),
    path("", include("mdm.urls")),
]
