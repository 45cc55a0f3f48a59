from celery import shared_task

from submissions.emails import send_submission_receipt


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5, queue="default")
def send_submission_receipt_task(version_id: int) -> None:
    send_submission_receipt(version_id=version_id)
