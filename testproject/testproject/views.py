"""The view under test: as small as it gets, so that the server stack is what is measured."""
from django.http import HttpResponse


def index(request):
    return HttpResponse("Hello, world! This is the Django Channels load-test view.\n",
                        content_type="text/plain")
