"""The one HTTP URL: the 2016 view itself, unchanged, at "/"."""

from django.urls import path

from testproject import views

urlpatterns = [
    path("", views.index),
]
