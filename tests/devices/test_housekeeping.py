from datetime import timedelta

from django.utils import timezone

from devices.models import EnrollmentToken, UsedAssertion
from devices.tasks import enrollment_tokens_forget_expired_task, used_assertions_purge_task


def test_expired_assertion_ids_are_forgotten_and_live_ones_kept(enrolled):
    device = enrolled.server_device
    now = timezone.now()
    for jti, expires in (("old-assertion", now - timedelta(seconds=1)), ("live-assertion", now + timedelta(minutes=5))):
        UsedAssertion.objects.create(organization=device.organization, device=device, jti=jti, expires_at=expires)
    assert used_assertions_purge_task() == 1
    assert set(UsedAssertion.objects.values_list("jti", flat=True)) == {"live-assertion"}


def test_expired_tokens_lose_their_wrapped_copy(actors, issue_token):
    expired, live = issue_token(), issue_token()
    EnrollmentToken.objects.filter(pk=expired.enrollment_token.pk).update(expires_at=timezone.now())
    assert enrollment_tokens_forget_expired_task() == 1
    assert EnrollmentToken.objects.get(pk=expired.enrollment_token.pk).wrapped_token is None
    assert EnrollmentToken.objects.get(pk=live.enrollment_token.pk).wrapped_token is not None
    assert enrollment_tokens_forget_expired_task() == 0


def test_every_scheduled_task_exists():
    from django.conf import settings

    from mdm.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]
