import os

from django.core.wsgi import get_wsgi_application

from bailanys.privacy.storage import owner_only_files

owner_only_files()  # the database, its WAL and the key files: owner-only

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bailanys.settings")
application = get_wsgi_application()
