import json
from typing import TextIO, cast

import segno
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from devices.choices import Ownership
from devices.services import enrollment_token_create
from mdm.actors import SYSTEM
from mdm.errors import ServiceError
from mdm.lib.durations import parse_duration
from mdm.models import Organization, User
from mdm.selectors import org_filter
from personas.models import Persona


class Command(BaseCommand):
    help = "Create an enrollment token; prints the token (shown only once) and its QR payload."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization name, slug or id.")
        parser.add_argument("--persona", help="Persona name or id to apply (default: none yet).")
        parser.add_argument("--ownership", choices=Ownership.values, default=Ownership.PERSONAL)
        parser.add_argument("--uses", type=int, default=1, help="How many devices may enroll with it (default 1).")
        parser.add_argument("--expires", default="7d", help="Validity: 30m, 1h, 7d... (default 7d).")
        parser.add_argument("--employee", help="Bind the token to this employee's e-mail address.")
        parser.add_argument("--note", default="", help="A note for the admins.")
        parser.add_argument("--qr", action="store_true", help="Also draw the QR code in the terminal.")
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="Print one JSON object (id, token, qr_payload)."
        )

    def handle(self, *args, org, persona, ownership, uses, expires, employee, note, qr, as_json, **options):
        organization = Organization.objects.filter(org_filter(org)).first()
        if organization is None:
            raise CommandError(f"No organization {org!r}.")
        persona_obj = None
        if persona:
            persona_obj = Persona.objects.filter(organization=organization).filter(org_filter(persona)).first()
            if persona_obj is None:
                raise CommandError(f"No persona {persona!r} in {organization.name}.")
        employee_obj = None
        if employee:
            employee_obj = User.objects.filter(email__iexact=employee).first()
            if employee_obj is None:
                raise CommandError(f"No user {employee!r}.")
        try:
            lifetime = parse_duration(expires)
            issued = enrollment_token_create(
                organization=organization,
                persona=persona_obj,
                ownership=ownership,
                uses=uses,
                expires_at=timezone.now() + lifetime,
                employee=employee_obj,
                note=note,
                actor=SYSTEM,
            )
        except (ValueError, ServiceError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        payload = _dumps(issued.qr_payload)
        if as_json:
            self.stdout.write(
                _dumps({"id": str(issued.enrollment_token.pk), "token": issued.token, "qr_payload": issued.qr_payload})
            )
            return
        self.stdout.write(f"token: {issued.token}")
        self.stdout.write(f"qr payload: {payload}")
        self.stdout.write(f"expires: {issued.enrollment_token.expires_at.isoformat()}  uses: {uses}")
        if qr:
            segno.make(payload, error="m").terminal(out=cast(TextIO, self.stdout), compact=True)


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))
