"""moto's server, answering one request at a time: the local stack's AWS emulator.

Why: moto's own `moto_server` serves each connection on its own thread, and its backends
are plain Python objects without locks, so two requests on one item interleave. Measured:
16 connections doing 400 `UpdateItem ADD n 1` on one item lose 1-2 of them; a conditional
`PutItem` can be let through twice; and a cancelled TransactWriteItems restores a deep copy
of the whole table it touched, undoing what other requests wrote meanwhile. Real DynamoDB
is atomic per item (conditional writes and transactions included), and the scenario tests
prove exactly-once through it, so the emulator has to be too
(tests/tests/scenarios/emulator.rs checks that it is).

How: the same WSGI application `moto_server` runs (moto.server.main, moto 5.2.5 pinned by
stack.sh), wrapped in one lock, served by the same threaded werkzeug server. The request
body is read before the lock and the response is sent after it, so only moto's own work is
serialized: a slow or stalled client holds nothing. Every service moto serves (DynamoDB,
EventBridge, Secrets Manager, SQS, ..., and /moto-api/) goes through the one lock, so
cross-service work (EventBridge delivering to a target) is serialized too.

Why this and not something else: a proxy in front of moto (asyncio, one request at a time)
would serialize the same thing with a second process, a second HTTP parser and an extra hop
per call; dynalite (npm) is an atomic DynamoDB emulator, but EventBridge and Secrets Manager
would still need moto, so two emulators, two readiness waits and DynamoDB state that
/moto-api/reset no longer covers. moto is single-threaded Python under the GIL anyway, so
one lock costs it little throughput.

Limits: a request that waits inside moto holds the lock for its wait (an SQS ReceiveMessage
with WaitTimeSeconds > 0; nothing here long-polls), and work moto does on threads of its
own (DynamoDB table exports/imports) is not serialized.

Usage (from stack.sh): .local/venv/bin/python moto_serial.py -H 127.0.0.1 -p PORT
Every response carries `X-Moto-Serial-Pid: <pid>`, so a readiness check can tell this
server from another one on the port.
"""

import argparse
import io
import os
import signal
import sys
import threading

import werkzeug.serving
from werkzeug.serving import run_simple
from werkzeug.wsgi import get_input_stream

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


class Serialized:
    """A WSGI application that runs the wrapped one for one request at a time."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.pid_header = ("X-Moto-Serial-Pid", str(os.getpid()))

    def __call__(self, environ, start_response):
        # The whole body first (by Content-Length, or to the end of a chunked one), outside
        # the lock.
        body = get_input_stream(environ).read()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))

        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, self.pid_header], exc_info)

        with self.lock:
            result = self.app(environ, start)
            try:
                chunks = list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        return chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    # As moto_server does: moto builds some URLs (e.g. SQS queue URLs) from it.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    # A listen backlog for hundreds of concurrent clients (werkzeug's default is 128): a
    # burst of requests beyond it has its connections dropped and retried by the kernel,
    # seconds later, which DynamoDB itself never does to a client.
    werkzeug.serving.BaseWSGIServer.request_queue_size = 4096
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto_server
    run_simple(
        args.host,
        args.port,
        Serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
