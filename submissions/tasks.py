import logging

from celery import shared_task

from submissions.emails import send_submission_receipt

logger = logging.getLogger(__name__)

RECEIPT_RETRIES = 6
RECEIPT_FIRST_RETRY_SECONDS = 60


@shared_task(bind=True, max_retries=RECEIPT_RETRIES, queue="default")
def send_submission_receipt_task(self, version_id: int, user_ids: list[int] | None = None) -> None:
    """Send the receipts; retry those that failed (only them, so nobody gets two) after 1, 2, 4, … minutes."""
    failed = send_submission_receipt(version_id=version_id, user_ids=user_ids)
    if not failed:
        return
    context = {"version": version_id, "users": failed, "attempt": self.request.retries + 1}
    if self.request.retries >= self.max_retries:
        logger.error("submission receipt not sent after every retry; giving up", extra=context)
        return
    logger.info("submission receipt will be retried", extra=context)
    raise self.retry(
        args=[version_id, failed], kwargs={}, countdown=RECEIPT_FIRST_RETRY_SECONDS * 2**self.request.retries
    )
