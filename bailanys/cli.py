"""The `bailanys` command: Django's management commands under one name."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bailanys.settings")
    from django.core.management import execute_from_command_line

    argv = ["bailanys", *sys.argv[1:]]
    if len(argv) == 1:
        argv.append("help")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
