"""The view under test: as small as it gets, so that the server stack is what is measured."""
import time

from django.http import HttpResponse


def index(request):
    return HttpResponse("Hello, world! This is the Django Channels load-test view.\n",
                        content_type="text/plain")


def calibrate(request, delay_ms):
    """The same answer after a known delay: the truth the harness's latency is checked against.
    Not the view under test; only playbooks/calibrate.yml requests it. The delay is exact to a
    few microseconds: a sleep alone overshoots by a tenth of a millisecond or more (timer slack,
    a virtual CPU waking up), so it sleeps until 2 ms before the end and spins the rest."""
    deadline = time.perf_counter() + int(delay_ms) / 1000.0
    if deadline - time.perf_counter() > 0.002:
        time.sleep(deadline - time.perf_counter() - 0.002)
    while time.perf_counter() < deadline:
        pass
    return HttpResponse("Calibrated: waited {} ms.\n".format(delay_ms), content_type="text/plain")
