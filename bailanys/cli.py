"""The `bailanys` command: Django's management commands under one name."""

import os
import sys


def main() -> None:
    from bailanys.privacy.storage import owner_only_files

    # The database, its WAL and the key files this process makes: owner-only.
    owner_only_files()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bailanys.settings")
    from django.core.management import execute_from_command_line

    argv = ["bailanys", *sys.argv[1:]]
    if len(argv) == 1:
        argv.append("help")
    elif argv[1] == "import-telegram":  # Django command names cannot hold a hyphen
        argv[1] = "import_telegram"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
