"""The app's URL conf and its handlers, plus two views that crash: the
handler500 is tested through them (pytest.mark.urls)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.urls import handler400, handler404, handler500
from annotate.urls import urlpatterns as app_patterns

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


class CrashApi(APIView):
    permission_classes = []

    def get(self, request: Request) -> Response:
        raise RuntimeError("a bug")


urlpatterns = [
    path("api/crash/", CrashApi.as_view()),
    path("crash/", crash),
    *app_patterns,
]
