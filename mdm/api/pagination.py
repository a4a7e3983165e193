from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from mdm.selectors import SeekPaginator


class PagePagination(PageNumberPagination):
    """`?page=` and `?page_size=` (at most 200). Either, when given, must be one whole number:
    DRF would quietly fall back to the default size, or answer 404 for a page that is no number."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        errors = {}
        for name, low, high in (("page", 1, None), ("page_size", 1, self.max_page_size)):
            given = request.query_params.getlist(name)
            if not given:
                continue
            if len(given) > 1:
                errors[name] = ["Given more than once."]
            elif not (given[0].isascii() and given[0].isdigit() and len(given[0]) <= 9) or not (
                low <= int(given[0]) <= (high or 10**9)
            ):
                errors[name] = [f"A whole number from {low}" + (f" to {high}." if high else " up.")]
        if errors:
            raise ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)


class SeekPagePagination(PagePagination):
    """The same pages, read through mdm.selectors.SeekPaginator (keyed by the primary key): a deep
    page costs what the first does."""

    django_paginator_class = SeekPaginator


class _SeqPaginator(SeekPaginator):
    def __init__(self, object_list, per_page, **kwargs):
        super().__init__(object_list, per_page, key="seq", **kwargs)


class SeqPagePagination(PagePagination):
    """SeekPagePagination for the audit log, keyed by `seq` (unique in an organization, and what
    its indexes hold next to the organization; the primary key is in none of them)."""

    django_paginator_class = _SeqPaginator
