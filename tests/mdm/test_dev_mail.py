"""Development e-mail lands in var/mail/ as .eml files, and the log names each one."""

from __future__ import annotations

import email
import logging

from django.core.mail import EmailMessage, get_connection


def test_each_message_is_an_eml_file_and_a_log_line(tmp_path, settings, caplog):
    settings.MDM_MAIL_DIR = str(tmp_path / "mail")
    connection = get_connection("mdm.mail.DevelopmentEmailBackend")
    body = "Set your password: http://x/y"
    message = EmailMessage("You're invited: Acme / MDM", body, "mdm@localhost", ["e@acme.test"])
    with caplog.at_level(logging.WARNING, logger="mdm.mail"):
        assert connection.send_messages([message]) == 1
    (written,) = (tmp_path / "mail").iterdir()
    assert written.suffix == ".eml" and "You-re-invited-Acme-MDM" in written.name
    parsed = email.message_from_bytes(written.read_bytes())
    assert parsed["To"] == "e@acme.test" and "http://x/y" in parsed.get_payload()
    assert str(written) in caplog.text and "e@acme.test" in caplog.text


def test_development_mode_sends_to_files_by_default():
    from mdm import settings as project_settings

    assert project_settings.EMAIL_BACKEND == "mdm.mail.DevelopmentEmailBackend"  # the suite runs in development
