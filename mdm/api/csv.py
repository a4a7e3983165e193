"""The admin API's CSV exports: streamed `text/csv` answers of a DRF view.

The rows never pass through a DRF renderer (the view answers a StreamingHttpResponse from
mdm.lib.csvstream); `CsvRenderer` is there so that `Accept: text/csv` is acceptable, and renders
what DRF does render on such a request, its problems, as the JSON they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from mdm.api.params import QueryParam


class CsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class CsvExportMixin:
    """For an export view: JSON or CSV acceptable, and a query string of only its own parameters
    (an export that silently ignored a misspelt filter would hand over more rows than asked for)."""

    renderer_classes: Sequence[type[BaseRenderer]] = [JSONRenderer, CsvRenderer]
    export_params: list[QueryParam] = []

    def refuse_unknown_params(self, request: Request) -> None:
        known = {param.name for param in self.export_params}
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            message = f"Not a parameter of this export. Known: {', '.join(sorted(known)) or 'none'}."
            raise ValidationError({name: [message] for name in unknown})


CSV_RESPONSE = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The rows, streamed, as CSV.")}
