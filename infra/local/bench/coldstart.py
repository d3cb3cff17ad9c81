#!/usr/bin/env python3
"""Init-time sampler for infra/local/bench/coldstart.sh (see its header for the method).

For one function and one sample:

  1. start a fresh `cargo lambda watch --only-lambda-apis` (the emulator: Lambda runtime
     API + invoke API, no function process) and wait until it listens;
  2. start a small pass-through proxy in front of its runtime API, only to timestamp the
     function's first `GET /runtime/invocation/next` (the end of Lambda's init phase);
  3. queue invocation #1 (the same POST `cargo lambda invoke` sends), then start the
     release binary (t0 = just before fork/exec) with the stack's environment and
     AWS_LAMBDA_RUNTIME_API pointing at the proxy;
  4. t_next = first /next seen by the proxy, t1 = answer of invocation #1 received;
  5. invocations #2..#(1+WARM) one after the other: their latency is the emulator's (and
     the handler's) share of any invocation; then one `cargo lambda invoke` of the same
     event, timed with the CLI's own start-up, for reference;
  6. stop the function and the watch.

Per sample: first_ms = t1 - t0; warm_ms = median of the warm latencies;
init_ms = first_ms - warm_ms (process start to first answer, less what a warm answer
costs); next_ms = t_next - t0 (what AWS reports as "Init Duration").

Prints one JSON object per function on stdout; progress goes to stderr.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cargo lambda watch exited with {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"cargo lambda watch did not listen on :{port}")


def stop(proc, sig=signal.SIGTERM, timeout=10.0):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Proxy:
    """Forwards the function's runtime-API calls to the watch, noting the first /next."""

    def __init__(self, upstream_port):
        self.first_next = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def forward(self):
                if "/runtime/invocation/next" in self.path and proxy.first_next is None:
                    proxy.first_next = time.perf_counter()
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn = http.client.HTTPConnection(HOST, upstream_port, timeout=600)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                # One write for head and body: two small writes would meet Nagle's algorithm
                # and the client's delayed ACK (40 ms on Linux) on every runtime-API call.
                head = [f"HTTP/1.1 {resp.status} {resp.reason}"]
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        head.append(f"{k}: {v}")
                head.append(f"content-length: {len(data)}")
                self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)

            do_GET = do_POST = forward

        ThreadingHTTPServer.daemon_threads = True
        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        # The function is killed mid long-poll at the end of a sample: not worth a trace.
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def invoke(port, function, payload):
    """POST /2015-03-31/functions/<fn>/invocations, as `cargo lambda invoke` does.
    Returns (HTTP status, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        conn.request(
            "POST",
            f"/2015-03-31/functions/{function}/invocations",
            body=payload,
            headers={"content-type": "application/json"},
        )
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def answer_status(body):
    """The status the function answered: statusCode of an HTTP response, else 'ok'/'error'."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "?"
    if isinstance(doc, dict):
        if "statusCode" in doc:
            return str(doc["statusCode"])
        if "isAuthorized" in doc:
            return "authorized" if doc["isAuthorized"] else "denied"
        if "errorType" in doc or "errorMessage" in doc:
            return "error"
    return "ok"


def sample(args, function, binary, event_file, log):
    with open(event_file, "rb") as f:
        payload = f.read()
    watch_port = free_port()
    watch = subprocess.Popen(
        [
            args.cargo_lambda, "lambda", "watch", "--only-lambda-apis", "--ignore-changes",
            "--invoke-address", HOST, "--invoke-port", str(watch_port),
        ],
        cwd=args.root,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    proxy = fn = None
    try:
        wait_listening(watch_port, watch)
        proxy = Proxy(watch_port)
        first = {}

        def first_invocation():
            try:
                first["status"], first["body"] = invoke(watch_port, function, payload)
                first["t1"] = time.perf_counter()
            except OSError as e:  # the watch went away (after a failed start)
                first["error"] = e

        t = threading.Thread(target=first_invocation, daemon=True)
        t.start()
        time.sleep(args.queue_delay)  # let the watch queue invocation #1
        env = dict(os.environ)
        env.update(
            AWS_LAMBDA_RUNTIME_API=f"http://{HOST}:{proxy.port}/.rt/{function}",
            AWS_LAMBDA_FUNCTION_NAME=function,
            AWS_LAMBDA_FUNCTION_VERSION="1",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(args.memory),
            # Fresh rate-limit counters per sample, so every sample answers the same way
            # (login allows 5 attempts a minute, signup 10).
            REDIS_KEY_PREFIX=f"coldstart-{os.getpid()}-{time.monotonic_ns()}:",
        )
        t0 = time.perf_counter()
        fn = subprocess.Popen([binary], env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + args.timeout
        while t.is_alive() and fn.poll() is None and time.monotonic() < deadline:
            t.join(0.005)
        if "t1" not in first:
            if fn.poll() is not None:
                raise RuntimeError(f"{function}: the function exited ({fn.returncode}) before answering")
            raise RuntimeError(f"{function}: no answer to the first invocation in {args.timeout}s")
        if fn.poll() is not None:
            raise RuntimeError(f"{function}: the function exited ({fn.returncode})")
        warm = []
        for _ in range(args.warm):
            s = time.perf_counter()
            invoke(watch_port, function, payload)
            warm.append((time.perf_counter() - s) * 1000)
        # The same event once more through the CLI itself (its process start included).
        s = time.perf_counter()
        cli = subprocess.run(
            [
                args.cargo_lambda, "lambda", "invoke", function, "--data-file", event_file,
                "--invoke-address", HOST, "--invoke-port", str(watch_port),
            ],
            cwd=args.root, stdout=subprocess.DEVNULL, stderr=log,
        )
        cli_ms = (time.perf_counter() - s) * 1000 if cli.returncode == 0 else None
        return {
            "first_ms": (first["t1"] - t0) * 1000,
            "next_ms": (proxy.first_next - t0) * 1000 if proxy.first_next else None,
            "warm_ms": statistics.median(warm),
            "cli_ms": cli_ms,
            "answer": answer_status(first["body"]) if first["status"] == 200 else f"http {first['status']}",
        }
    finally:
        stop(fn)
        if proxy:
            proxy.close()
        stop(watch, signal.SIGINT)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--cargo-lambda", required=True, help="path of the cargo-lambda binary")
    p.add_argument("--bin-dir", required=True, help="folder of the host-arch release binaries")
    p.add_argument("--event", action="append", default=[], metavar="FN=FILE")
    p.add_argument("--samples", type=int, default=5)
    p.add_argument("--discard", type=int, default=1, help="warm-up samples not counted")
    p.add_argument("--warm", type=int, default=3, help="warm invocations per sample")
    p.add_argument("--memory", type=int, default=1024)
    p.add_argument("--queue-delay", type=float, default=0.05)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--log", required=True, help="file for the watch and function output")
    args = p.parse_args()

    with open(args.log, "ab") as log:
        for spec in args.event:
            function, path = spec.split("=", 1)
            binary = os.path.join(args.bin_dir, function)
            runs = []
            for i in range(args.discard + args.samples):
                log.write(f"\n=== {function} sample {i} ===\n".encode())
                log.flush()
                r = sample(args, function, binary, path, log)
                print(
                    f"  {function} #{i}{' (warm-up)' if i < args.discard else ''}: "
                    f"first {r['first_ms']:.1f} ms, /next {r['next_ms'] or float('nan'):.1f} ms, "
                    f"warm {r['warm_ms']:.2f} ms, cli invoke {r['cli_ms'] or float('nan'):.1f} ms, "
                    f"answer {r['answer']}",
                    file=sys.stderr,
                )
                if i >= args.discard:
                    runs.append(r)
            med = lambda key: statistics.median(r[key] for r in runs if r[key] is not None)
            print(
                json.dumps(
                    {
                        "function": function,
                        "samples": len(runs),
                        "first_ms": med("first_ms"),
                        "warm_ms": med("warm_ms"),
                        "init_ms": statistics.median(r["first_ms"] - r["warm_ms"] for r in runs),
                        "next_ms": med("next_ms"),
                        "cli_ms": med("cli_ms") if any(r["cli_ms"] for r in runs) else None,
                        "answer": runs[-1]["answer"],
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
