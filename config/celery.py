import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

if app.conf.broker_url.startswith("filesystem://"):
    # The embedded default's server-less broker is two plain folders.
    for _key in ("data_folder_in", "processed_folder"):
        os.makedirs(app.conf.broker_transport_options[_key], exist_ok=True)
