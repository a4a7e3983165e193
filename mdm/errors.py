"""The one error type of the domain: a refused operation, with what to tell the person who asked.

Services raise `ServiceError`; nothing in a service knows about HTTP frameworks. The admin API's
problem+json handler renders it (`status`, `code`, `detail`, `errors`), and so does the console,
next to the fields at fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

NON_FIELD = "non_field_errors"


class ServiceError(Exception):
    """A refused operation.

    `message` is one sentence for a person; `code` the problem's snake_case code; `status` the
    HTTP status an API answers with (400 unless said otherwise; a `conflict` is 409).
    `errors` are the messages by input path (`name`, `apps[0].id`, `access.max_offline_days`):
    give `field` for a single one (it then carries `message`), or `errors` for several.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid",
        field: str | None = None,
        status: int | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status or (409 if code == "conflict" else 400)
        if errors:
            self.errors: dict[str, list[str]] = {
                str(path): [str(m) for m in messages] for path, messages in errors.items()
            }
        elif field:
            self.errors = {field: [message]}
        else:
            self.errors = {}

    @property
    def field(self) -> str | None:
        """The first input path at fault, if any."""
        return next(iter(self.errors), None)

    @classmethod
    def invalid_fields(
        cls, errors: Mapping[str, Sequence[str]], message: str = "The request has invalid fields."
    ) -> ServiceError:
        """Several fields at fault at once (a persona spec, a form)."""
        return cls(message, errors=errors)

    def __repr__(self) -> str:
        return f"ServiceError({self.message!r}, code={self.code!r}, status={self.status}, errors={self.errors!r})"
