"""The one URL every setup serves, and the channel routing for the Channels setups."""
from django.conf.urls import url

from testproject import views

urlpatterns = [
    url(r"^$", views.index),
]

# Empty: Channels 0.17 sends http.request to Django's view system when nothing else claims it.
channel_routing = []
