from django.urls import path

from hits import views

urlpatterns = [
    path("", views.index),
    path("healthz", views.healthz),
    path("task", views.run_task),
]
