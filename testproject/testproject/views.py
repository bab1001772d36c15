"""The view under test: as small as it gets, so that the server stack is what is measured."""
import time

from django.http import HttpResponse


def index(request):
    return HttpResponse("Hello, world! This is the Django Channels load-test view.\n",
                        content_type="text/plain")


def calibrate(request, delay_ms):
    """The same answer after a known delay: the truth the harness's latency is checked against.
    Not the view under test; only playbooks/calibrate.yml requests it. The delay is exact to a
    few microseconds and keeps the server's CPU busy throughout: a sleep overshoots by a tenth of
    a millisecond or more (timer slack), and a CPU left idle for the delay wakes up later than
    one that was busy (deeper idle states, a virtual CPU descheduled), which would count as
    latency of a delay, not of the server."""
    deadline = time.perf_counter() + int(delay_ms) / 1000.0
    while time.perf_counter() < deadline:
        pass
    return HttpResponse("Calibrated: waited {} ms.\n".format(delay_ms), content_type="text/plain")
