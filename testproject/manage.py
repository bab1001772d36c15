#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    # The seed ran `python manage.py runworker` with no --settings for the Redis setup.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings.channels")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
