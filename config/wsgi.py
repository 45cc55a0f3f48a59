import os

from django.core.wsgi import get_wsgi_application

from config.heap import FreezeWhatLoads

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = FreezeWhatLoads(get_wsgi_application())
