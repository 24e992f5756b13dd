import socket

from celery import shared_task

from .models import TaskResult


@shared_task
def square(token: str, n: int) -> int:
    TaskResult.objects.update_or_create(token=token, defaults={"value": n * n, "worker": socket.gethostname()})
    return n * n
