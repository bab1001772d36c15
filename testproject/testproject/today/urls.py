"""The HTTP URLs: the 2016 view itself, unchanged, at "/", and the calibration URL."""

from django.urls import path

from testproject import views

urlpatterns = [
    path("", views.index),
    # A known delay, for the harness's calibration (playbooks/calibrate.yml); never load-tested.
    path("calibrate/<int:delay_ms>ms", views.calibrate),
]
