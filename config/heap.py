"""Keep Python's cyclic collector off what a web worker holds for good.

Each full collection walks every tracked object of the oldest generation: in a web worker that is mostly the
modules, classes, functions and compiled templates it loaded, about 200,000 objects once every page has been
served. Walking them took 80 ms on an idle core and about 200 ms (up to 320) under the web benchmark's load,
while the request that happened to allocate waited: the pages' p95 tails (bench/web.py). ``gc.freeze()`` puts
the objects alive at that moment out of the collector's sight (reference counting still frees them). A worker
loads code lazily, on the first request of each kind of page, so it freezes again after any request that
loaded modules, collecting first so that no garbage is frozen with them.
"""

import gc
import sys
from collections.abc import Callable, Iterable


class FreezeWhatLoads:
    """A WSGI application that freezes the heap after every request that imported modules."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application
        self.modules_frozen = 0
        self.freeze()

    def freeze(self) -> None:
        gc.collect()
        gc.freeze()
        self.modules_frozen = len(sys.modules)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        response = self.application(environ, start_response)
        if len(sys.modules) != self.modules_frozen:
            self.freeze()
        return response
