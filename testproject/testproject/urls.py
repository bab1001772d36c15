"""The one URL every setup serves, and the channel routing for the Channels setups."""
from django.conf.urls import url

from testproject import views

urlpatterns = [
    url(r"^$", views.index),
    # A known delay, for the harness's calibration (playbooks/calibrate.yml); never load-tested.
    url(r"^calibrate/(?P<delay_ms>[0-9]{1,5})ms$", views.calibrate),
]

# Empty: Channels 0.17 sends http.request to Django's view system when nothing else claims it.
channel_routing = []
