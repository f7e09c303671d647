"""Static files on the wire: hashed names cached for a year, gzip for every text file.

`bailanys up` collects them into the data directory at each start (STATIC_ROOT), with
WhiteNoise's compressed manifest storage: htmx goes out as 17 KB instead of 52 KB, and a
phone on 2G fetches it once. A server started some other way without `bailanys
collectstatic` still works: the names stay plain and the files are served uncompressed
from the package, as before, rather than every page failing for a missing manifest.
"""

from django.contrib.staticfiles.storage import StaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class Storage(CompressedManifestStaticFilesStorage):
    # Swagger UI's own files name maps that are not shipped; a missing reference must
    # not stop the collection.
    manifest_strict = False

    def url(self, name, force=False):
        if not self.hashed_files:  # never collected: plain names, served by the finders
            return StaticFilesStorage.url(self, name)
        return super().url(name, force)
