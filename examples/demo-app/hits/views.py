import os
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse

from .models import Hit, TaskResult
from .tasks import square


def release_id() -> str:
    """The release ops deployed: the RELEASE file it writes into each release directory."""
    f = Path(__file__).resolve().parent.parent / "RELEASE"
    return f.read_text().strip() if f.exists() else "dev"


def index(request):
    Hit.objects.create(release=release_id())
    views = cache.get_or_set("views", 0)
    cache.incr("views")
    last = TaskResult.objects.order_by("-at").first()
    return HttpResponse(
        f"ops demo\nrelease: {release_id()}\nhits in database: {Hit.objects.count()}\n"
        f"cache views: {views + 1}\nlast task: {last.value if last else '-'} by {last.worker if last else '-'}\n"
        f"setting: {os.environ.get('DEMO_SETTING', '-')}\nsecret key length: {len(settings.SECRET_KEY)}\n",
        content_type="text/plain",
    )


def healthz(request):
    """Healthy only when the database answers (a read, not just a 200 from the web server)."""
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM hits_hit")
        count = cur.fetchone()[0]
    return JsonResponse({"ok": True, "release": release_id(), "hits": count})


def run_task(request):
    """Sends a task through the broker to the worker and waits for its result in the database."""
    token = uuid.uuid4().hex
    n = int(request.GET.get("n", "7"))
    square.delay(token, n)
    deadline = time.time() + float(request.GET.get("timeout", "20"))
    while time.time() < deadline:
        r = TaskResult.objects.filter(token=token).first()
        if r:
            return JsonResponse({"token": token, "value": r.value, "worker": r.worker})
        time.sleep(0.2)
    return JsonResponse({"token": token, "error": "no result from the worker"}, status=504)
