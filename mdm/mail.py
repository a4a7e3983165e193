"""Development e-mail: every message the server sends (invitations, enrollment instructions,
lost-device notices) is written to `var/mail/` as an .eml file any mail client opens, and named
in one line of the server's log, so a newcomer can click an invitation link without an SMTP
server. Production sends through EMAIL_HOST (settings.py)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

logger = logging.getLogger("mdm.mail")


class DevelopmentEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(settings.MDM_MAIL_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
            subject = re.sub(r"[^A-Za-z0-9]+", "-", message.subject)[:60].strip("-") or "message"
            path = folder / f"{stamp}-{subject}.eml"
            path.write_bytes(message.message().as_bytes(linesep="\n"))
            logger.warning("E-mail to %s, %r: %s", ", ".join(message.recipients()), message.subject, path)
            sent += 1
        return sent
