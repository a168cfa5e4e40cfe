#!/usr/bin/python3
"""Stock grpc-core (Debian python3-grpcio) interop server for Relay's interop tests.

Usage: /usr/bin/python3 interop_server.py --listen 127.0.0.1:0|unix:/abs/path [--ignore-stdin]

Serves grpc.testing.TestService (everything but UnimplementedCall, which must
answer UNIMPLEMENTED) and grpc.health.v1.Health.  Prints exactly one line
``LISTENING <port-or-path>`` on stdout once bound, then runs until SIGTERM,
SIGINT or EOF on stdin (unless --ignore-stdin), and exits 0.
"""

import argparse
import os
import signal
import stat
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common as common  # noqa: E402

common.ensure_system_python()
import grpc  # noqa: E402

P = common.load_protos()
messages = P.messages_pb2
health_pb2 = P.health_pb2

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"


def _echo_metadata(context):
    """Echo Metadata rule: initial key back as initial metadata, -bin key as trailers."""
    initial, trailing = [], []
    for md in context.invocation_metadata():
        if md.key == ECHO_INITIAL:
            initial.append((md.key, md.value))
        elif md.key == ECHO_TRAILING:
            trailing.append((md.key, md.value))
    if initial:
        context.send_initial_metadata(initial)
    if trailing:
        context.set_trailing_metadata(trailing)


def _request_encoding(context):
    for md in context.invocation_metadata():
        if md.key == "grpc-encoding":
            return md.value
    return None


def _check_expect_compressed(expect, context):
    """CompressedRequest feature.  grpc-core hides the per-message compressed flag
    from the application, so this uses the request's grpc-encoding header when the
    library exposes it and otherwise accepts the request."""
    if not expect.value:
        return
    enc = _request_encoding(context)
    if enc is not None and enc in ("", "identity"):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "expected a compressed request but grpc-encoding is %r" % enc)


def _maybe_echo_status(req, context):
    if req.HasField("response_status") and req.response_status.code != 0:
        context.abort(common.status_code(req.response_status.code), req.response_status.message)


def _payload(response_type, size, context):
    if response_type != messages.COMPRESSABLE:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported response_type %d" % response_type)
    return messages.Payload(type=messages.COMPRESSABLE, body=bytes(size))


class TestService(P.test_pb2_grpc.TestServiceServicer):
    # UnimplementedCall is deliberately left to the generated base class, which
    # answers UNIMPLEMENTED.

    def EmptyCall(self, request, context):
        return P.empty_pb2.Empty()

    def UnaryCall(self, request, context):
        _echo_metadata(context)
        _check_expect_compressed(request.expect_compressed, context)
        _maybe_echo_status(request, context)
        if request.response_compressed.value:
            context.set_compression(grpc.Compression.Gzip)
        return messages.SimpleResponse(payload=_payload(request.response_type, request.response_size, context))

    def CacheableUnaryCall(self, request, context):
        context.set_trailing_metadata([])
        return messages.SimpleResponse(payload=messages.Payload(body=str(time.time_ns()).encode()))

    def StreamingInputCall(self, request_iterator, context):
        _echo_metadata(context)
        total = 0
        for req in request_iterator:
            _check_expect_compressed(req.expect_compressed, context)
            total += len(req.payload.body)
        return messages.StreamingInputCallResponse(aggregated_payload_size=total)

    def _respond(self, req, context):
        for params in req.response_parameters:
            if params.interval_us > 0:
                time.sleep(params.interval_us / 1e6)
            if params.compressed.value:
                context.set_compression(grpc.Compression.Gzip)
            yield messages.StreamingOutputCallResponse(payload=_payload(req.response_type, params.size, context))

    def StreamingOutputCall(self, request, context):
        _echo_metadata(context)
        _maybe_echo_status(request, context)
        yield from self._respond(request, context)

    def FullDuplexCall(self, request_iterator, context):
        _echo_metadata(context)
        for req in request_iterator:
            _maybe_echo_status(req, context)
            yield from self._respond(req, context)

    def HalfDuplexCall(self, request_iterator, context):
        _echo_metadata(context)
        reqs = list(request_iterator)
        for req in reqs:
            _maybe_echo_status(req, context)
        for req in reqs:
            yield from self._respond(req, context)


class HealthService(P.health_pb2_grpc.HealthServicer):
    def __init__(self):
        self.status = {
            "": health_pb2.HealthCheckResponse.SERVING,
            "grpc.testing.TestService": health_pb2.HealthCheckResponse.SERVING,
        }

    def Check(self, request, context):
        st = self.status.get(request.service)
        if st is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return health_pb2.HealthCheckResponse(status=st)

    def Watch(self, request, context):
        st = self.status.get(request.service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)
        yield health_pb2.HealthCheckResponse(status=st)
        # Statuses never change here: hold the stream open until the client goes away.
        done = threading.Event()
        if not context.add_callback(done.set):
            return
        while not done.wait(0.5):
            if not context.is_active():
                return


def _bind(server, address):
    try:
        return server.add_insecure_port(address)
    except RuntimeError as e:
        common.log(str(e))
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True, help="127.0.0.1:0 (free port) or unix:/abs/path")
    ap.add_argument("--ignore-stdin", action="store_true",
                    help="do not exit on EOF on stdin (for running by hand in the background)")
    args = ap.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64),
                         options=[("grpc.so_reuseport", 0)])
    P.test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    P.health_pb2_grpc.add_HealthServicer_to_server(HealthService(), server)

    sock_path = None
    if args.listen.startswith("unix:"):
        sock_path = common.unix_path(args.listen)
        try:
            if stat.S_ISSOCK(os.lstat(sock_path).st_mode):
                os.unlink(sock_path)
        except FileNotFoundError:
            pass
        if _bind(server, "unix:" + sock_path) == 0:
            common.log("failed to bind", args.listen)
            return 1
        shown = sock_path
    else:
        port = _bind(server, args.listen)
        if port == 0:
            common.log("failed to bind", args.listen)
            return 1
        shown = str(port)
    server.start()
    sys.stdout.write("LISTENING %s\n" % shown)
    sys.stdout.flush()

    if not args.ignore_stdin:
        def watch_stdin():
            try:
                while True:
                    if not os.read(sys.stdin.fileno(), 65536):
                        break
            except (OSError, ValueError, AttributeError):
                pass
            common.log("stdin reached EOF: shutting down")
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()

    while not stop.wait(0.5):
        pass
    server.stop(grace=1.0).wait(3.0)
    if sock_path:
        try:
            os.unlink(sock_path)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main() or 0)
