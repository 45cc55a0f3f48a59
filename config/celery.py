import logging
import os
from logging.config import dictConfig

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if app.conf.broker_url.startswith("filesystem://"):
    # The embedded default's server-less broker is plain folders.
    for _key in ("data_folder_in", "processed_folder", "control_folder"):
        os.makedirs(app.conf.broker_transport_options[_key], exist_ok=True)


@setup_logging.connect
def _log_like_the_web_process(loglevel=None, **kwargs):
    """Workers and beat log through the project's LOGGING (format and job context: config/logging.py) instead of
    Celery's own format. LOG_LEVEL sets the project's level; ``-l`` still sets Celery's own loggers'."""
    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)
