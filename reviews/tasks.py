"""Celery tasks of reviews: they take ids and claim before working, so a repeated delivery sends nothing twice."""

from celery import shared_task

from reviews import feedback


@shared_task(name=feedback.SEND_FEEDBACK_EMAIL_TASK, ignore_result=True)
def send_feedback_email(email_id: int) -> None:
    feedback.send_feedback_email(email_id=email_id)
