from django.db import models


class Hit(models.Model):
    """One page view, written by the web app."""

    at = models.DateTimeField(auto_now_add=True)
    release = models.CharField(max_length=64)


class TaskResult(models.Model):
    """A result computed by the Celery worker, read back by the web app."""

    token = models.CharField(max_length=64, unique=True)
    value = models.IntegerField()
    worker = models.CharField(max_length=128)
    at = models.DateTimeField(auto_now_add=True)
