"""A web worker keeps what it loaded out of the cyclic collector's walks (config/heap.py).

Each check runs in a process of its own: freezing the heap of the test process would keep its garbage for good.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, json, sys, weakref
from config.heap import FreezeWhatLoads

class Node:
    pass

kept = []  # what a page keeps beyond its request: frozen only when the next freeze comes

def page(environ, start_response):
    kept.append(Node())
    if environ["PATH_INFO"] == "/loads":
        import wave  # a module this process has not loaded yet
    start_response("200 OK", [])
    return [b"ok"]

assert "wave" not in sys.modules
app = FreezeWhatLoads(page)
seen = {"frozen at start": gc.get_freeze_count()}
list(app({"PATH_INFO": "/plain"}, lambda *a: None))
seen["frozen after a page that loads nothing"] = gc.get_freeze_count()
cycle = Node()
cycle.itself = cycle
alive = weakref.ref(cycle)
del cycle
list(app({"PATH_INFO": "/loads"}, lambda *a: None))
seen["frozen after a page that loads a module"] = gc.get_freeze_count()
seen["garbage freed before freezing"] = alive() is None
seen["modules counted"] = app.modules_frozen == len(sys.modules)
print(json.dumps(seen))
"""


def run(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_heap_is_frozen_again_only_after_a_request_that_loaded_modules_and_garbage_is_collected_first():
    seen = run(PROBE)
    assert seen["frozen at start"] > 1000
    assert seen["frozen after a page that loads nothing"] == seen["frozen at start"]
    assert seen["frozen after a page that loads a module"] > seen["frozen at start"]
    assert seen["garbage freed before freezing"] is True
    assert seen["modules counted"] is True


def test_the_site_served_by_gunicorn_freezes_what_it_loaded():
    seen = run(
        "import gc, json, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')\n"
        "from config.wsgi import application\n"
        "from config.heap import FreezeWhatLoads\n"
        "print(json.dumps([isinstance(application, FreezeWhatLoads), gc.get_freeze_count()]))\n"
    )
    wrapped, frozen = seen
    assert wrapped is True
    # Django, its apps and their models: tens of thousands of objects no collection needs to walk.
    assert frozen > 20_000
