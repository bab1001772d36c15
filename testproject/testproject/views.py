"""The view under test: as small as it gets, so that the server stack is what is measured."""
import time

from django.http import HttpResponse


def index(request):
    return HttpResponse("Hello, world! This is the Django Channels load-test view.\n",
                        content_type="text/plain")


def calibrate(request, delay_ms):
    """The same answer after a known delay: the truth the harness's latency is checked against.
    Not the view under test; only playbooks/calibrate.yml requests it."""
    time.sleep(int(delay_ms) / 1000.0)
    return HttpResponse("Calibrated: slept {} ms.\n".format(delay_ms), content_type="text/plain")
