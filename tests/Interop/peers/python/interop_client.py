#!/usr/bin/python3
"""Stock grpc-core (Debian python3-grpcio) interop client for Relay's interop tests.

Usage: /usr/bin/python3 interop_client.py --target 127.0.0.1:PORT|unix:/abs/path
                                          --case NAME[,NAME...] [--timeout-seconds N]

Prints one JSON object per case on stdout:
  {"case": "...", "ok": true|false, "detail": "..."}   (reflection adds "services": [...])
and nothing else (diagnostics go to stderr).  Exit code 0 iff every case passed.
"""

import argparse
import json
import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_common as common  # noqa: E402

common.ensure_system_python()
import grpc  # noqa: E402
from google.protobuf import descriptor_pb2  # noqa: E402

P = common.load_protos()
messages = P.messages_pb2
Empty = P.empty_pb2.Empty
health_pb2 = P.health_pb2

ALL_CASES = [
    "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
    "cancel_after_begin", "cancel_after_first_response", "timeout_on_sleeping_server",
    "status_code_and_message", "special_status_message", "custom_metadata",
    "unimplemented_method", "unimplemented_service", "compressed_unary",
]
EXTRA_CASES = ["health", "reflection"]

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_INITIAL_VALUE = "test_initial_metadata_value"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
ECHO_TRAILING_VALUE = b"\xab\xab\xab"
SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001F608\t\n"


class CaseFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFailed(msg)


def zeros(n):
    return messages.Payload(type=messages.COMPRESSABLE, body=bytes(n))


def check_payload(payload, size, what="response"):
    check(len(payload.body) == size, "%s payload is %d bytes, expected %d" % (what, len(payload.body), size))
    check(payload.body == bytes(size), "%s payload is not all zeros" % what)


def code_name(code):
    return code.name if code is not None else "None"


def expect_rpc_error(fn, code, message=None, what="call"):
    """Run fn(); it must raise grpc.RpcError with the given code (and message)."""
    try:
        result = fn()
    except grpc.RpcError as e:
        check(e.code() == code, "%s: expected %s, got %s (%r)" % (what, code.name, code_name(e.code()), e.details()))
        if message is not None:
            check(e.details() == message, "%s: expected message %r, got %r" % (what, message, e.details()))
        return e
    raise CaseFailed("%s: expected %s but the call succeeded (%r)" % (what, code.name, result))


class Pipe:
    """A request iterator fed by the test, for lockstep bidi streaming."""
    _END = object()

    def __init__(self):
        self._q = queue.Queue()

    def __iter__(self):
        return self

    def __next__(self):
        item = self._q.get()
        if item is self._END:
            raise StopIteration()
        return item

    def add(self, item):
        self._q.put(item)

    def close(self):
        self._q.put(self._END)


def md_values(metadata, key):
    return [m.value for m in (metadata or ()) if m.key == key]


def check_echoed_metadata(initial, trailing, what):
    got_i = md_values(initial, ECHO_INITIAL)
    check(got_i == [ECHO_INITIAL_VALUE], "%s: initial metadata %s = %r, expected [%r]"
          % (what, ECHO_INITIAL, got_i, ECHO_INITIAL_VALUE))
    got_t = md_values(trailing, ECHO_TRAILING)
    check(got_t == [ECHO_TRAILING_VALUE], "%s: trailing metadata %s = %r, expected [%r]"
          % (what, ECHO_TRAILING, got_t, ECHO_TRAILING_VALUE))


class Client:
    def __init__(self, channel, timeout):
        self.channel = channel
        self.timeout = timeout
        self.stub = P.test_pb2_grpc.TestServiceStub(channel)
        self.deadline = None

    def remaining(self):
        return max(0.05, self.deadline - time.monotonic())

    # ---- cases -------------------------------------------------------------

    def empty_unary(self):
        resp = self.stub.EmptyCall(Empty(), timeout=self.remaining())
        check(isinstance(resp, Empty), "response is not grpc.testing.Empty: %r" % (resp,))
        return "EmptyCall OK"

    def large_unary(self):
        req = messages.SimpleRequest(response_type=messages.COMPRESSABLE, response_size=314159, payload=zeros(271828))
        resp = self.stub.UnaryCall(req, timeout=self.remaining())
        check_payload(resp.payload, 314159)
        return "271828 -> 314159 bytes"

    def client_streaming(self):
        sizes = [27182, 8, 1828, 45904]
        reqs = [messages.StreamingInputCallRequest(payload=zeros(n)) for n in sizes]
        resp = self.stub.StreamingInputCall(iter(reqs), timeout=self.remaining())
        check(resp.aggregated_payload_size == 74922, "aggregated_payload_size %d, expected 74922"
              % resp.aggregated_payload_size)
        return "aggregated_payload_size 74922"

    def server_streaming(self):
        sizes = [31415, 9, 2653, 58979]
        req = messages.StreamingOutputCallRequest(
            response_type=messages.COMPRESSABLE,
            response_parameters=[messages.ResponseParameters(size=n) for n in sizes])
        call = self.stub.StreamingOutputCall(req, timeout=self.remaining())
        got = []
        for resp in call:
            check(len(got) < len(sizes), "more than %d responses" % len(sizes))
            check_payload(resp.payload, sizes[len(got)], "response %d" % len(got))
            got.append(len(resp.payload.body))
        check(call.code() == grpc.StatusCode.OK, "status %s" % code_name(call.code()))
        check(got == sizes, "response sizes %r, expected %r" % (got, sizes))
        return "sizes %r" % got

    def ping_pong(self):
        req_sizes = [27182, 8, 1828, 45904]
        resp_sizes = [31415, 9, 2653, 58979]
        pipe = Pipe()
        call = self.stub.FullDuplexCall(pipe, timeout=self.remaining())
        try:
            for i, (rq, rs) in enumerate(zip(req_sizes, resp_sizes)):
                pipe.add(messages.StreamingOutputCallRequest(
                    response_type=messages.COMPRESSABLE,
                    response_parameters=[messages.ResponseParameters(size=rs)], payload=zeros(rq)))
                resp = next(call)
                check_payload(resp.payload, rs, "response %d" % i)
            pipe.close()
            extra = list(call)
            check(not extra, "%d extra responses after half-close" % len(extra))
            check(call.code() == grpc.StatusCode.OK, "status %s" % code_name(call.code()))
        except StopIteration:
            raise CaseFailed("stream ended early")
        finally:
            pipe.close()
        return "4 lockstep round trips"

    def empty_stream(self):
        call = self.stub.FullDuplexCall(iter([]), timeout=self.remaining())
        got = list(call)
        check(not got, "expected zero responses, got %d" % len(got))
        check(call.code() == grpc.StatusCode.OK, "status %s" % code_name(call.code()))
        return "zero responses, OK"

    def cancel_after_begin(self):
        pipe = Pipe()
        fut = self.stub.StreamingInputCall.future(pipe, timeout=self.remaining())
        try:
            fut.cancel()
            code = fut.code()
            check(code == grpc.StatusCode.CANCELLED, "status %s, expected CANCELLED" % code_name(code))
        finally:
            pipe.close()
        return "CANCELLED"

    def cancel_after_first_response(self):
        pipe = Pipe()
        call = self.stub.FullDuplexCall(pipe, timeout=self.remaining())
        try:
            pipe.add(messages.StreamingOutputCallRequest(
                response_type=messages.COMPRESSABLE,
                response_parameters=[messages.ResponseParameters(size=31415)], payload=zeros(27182)))
            resp = next(call)
            check_payload(resp.payload, 31415)
            call.cancel()
            expect_rpc_error(lambda: next(call), grpc.StatusCode.CANCELLED, what="read after cancel")
            check(call.code() == grpc.StatusCode.CANCELLED, "status %s, expected CANCELLED" % code_name(call.code()))
        finally:
            pipe.close()
        return "CANCELLED after first response"

    def timeout_on_sleeping_server(self):
        pipe = Pipe()
        call = self.stub.FullDuplexCall(pipe, timeout=0.001)
        try:
            pipe.add(messages.StreamingOutputCallRequest(payload=zeros(27182)))
            expect_rpc_error(lambda: next(call), grpc.StatusCode.DEADLINE_EXCEEDED, what="FullDuplexCall 1ms")
        finally:
            pipe.close()
        return "DEADLINE_EXCEEDED"

    def status_code_and_message(self):
        st = messages.EchoStatus(code=2, message="test status message")
        expect_rpc_error(lambda: self.stub.UnaryCall(messages.SimpleRequest(response_status=st),
                                                     timeout=self.remaining()),
                         grpc.StatusCode.UNKNOWN, "test status message", "UnaryCall")
        expect_rpc_error(lambda: list(self.stub.FullDuplexCall(
            iter([messages.StreamingOutputCallRequest(response_status=st)]), timeout=self.remaining())),
            grpc.StatusCode.UNKNOWN, "test status message", "FullDuplexCall")
        return "UNKNOWN 'test status message' for UnaryCall and FullDuplexCall"

    def special_status_message(self):
        st = messages.EchoStatus(code=2, message=SPECIAL_MESSAGE)
        expect_rpc_error(lambda: self.stub.UnaryCall(messages.SimpleRequest(response_status=st),
                                                     timeout=self.remaining()),
                         grpc.StatusCode.UNKNOWN, SPECIAL_MESSAGE, "UnaryCall")
        return "message round-tripped exactly"

    def custom_metadata(self):
        md = [(ECHO_INITIAL, ECHO_INITIAL_VALUE), (ECHO_TRAILING, ECHO_TRAILING_VALUE)]
        req = messages.SimpleRequest(response_type=messages.COMPRESSABLE, response_size=314159, payload=zeros(271828))
        resp, call = self.stub.UnaryCall.with_call(req, metadata=md, timeout=self.remaining())
        check_payload(resp.payload, 314159)
        check_echoed_metadata(call.initial_metadata(), call.trailing_metadata(), "UnaryCall")

        sreq = messages.StreamingOutputCallRequest(
            response_type=messages.COMPRESSABLE,
            response_parameters=[messages.ResponseParameters(size=314159)], payload=zeros(271828))
        call = self.stub.FullDuplexCall(iter([sreq]), metadata=md, timeout=self.remaining())
        resps = list(call)
        check(len(resps) == 1, "FullDuplexCall: %d responses, expected 1" % len(resps))
        check_payload(resps[0].payload, 314159)
        check(call.code() == grpc.StatusCode.OK, "FullDuplexCall status %s" % code_name(call.code()))
        check_echoed_metadata(call.initial_metadata(), call.trailing_metadata(), "FullDuplexCall")
        return "initial and trailing(-bin) metadata echoed for UnaryCall and FullDuplexCall"

    def unimplemented_method(self):
        expect_rpc_error(lambda: self.stub.UnimplementedCall(Empty(), timeout=self.remaining()),
                         grpc.StatusCode.UNIMPLEMENTED, what="TestService/UnimplementedCall")
        return "UNIMPLEMENTED"

    def unimplemented_service(self):
        stub = P.test_pb2_grpc.UnimplementedServiceStub(self.channel)
        expect_rpc_error(lambda: stub.UnimplementedCall(Empty(), timeout=self.remaining()),
                         grpc.StatusCode.UNIMPLEMENTED, what="UnimplementedService/UnimplementedCall")
        return "UNIMPLEMENTED"

    def compressed_unary(self):
        def req(expect):
            return messages.SimpleRequest(response_type=messages.COMPRESSABLE, response_size=314159,
                                          payload=zeros(271828), expect_compressed=messages.BoolValue(value=expect))
        # 1. feature probe: uncompressed request that claims to be compressed.
        notes = []
        try:
            self.stub.UnaryCall(req(True), timeout=self.remaining(), compression=grpc.Compression.NoCompression)
            notes.append("probe succeeded: server does not check expect_compressed")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT,
                  "probe: expected INVALID_ARGUMENT (or OK), got %s (%r)" % (code_name(e.code()), e.details()))
            notes.append("probe INVALID_ARGUMENT")
        # 2. gzip-compressed request.
        resp = self.stub.UnaryCall(req(True), timeout=self.remaining(), compression=grpc.Compression.Gzip)
        check_payload(resp.payload, 314159, "compressed call response")
        notes.append("gzip request OK")
        # 3. uncompressed request.
        resp = self.stub.UnaryCall(req(False), timeout=self.remaining(), compression=grpc.Compression.NoCompression)
        check_payload(resp.payload, 314159, "uncompressed call response")
        notes.append("identity request OK")
        return "; ".join(notes)

    def health(self):
        stub = P.health_pb2_grpc.HealthStub(self.channel)
        resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=self.remaining())
        check(resp.status == health_pb2.HealthCheckResponse.SERVING,
              "Check(\"\") status %s, expected SERVING" % health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status))
        expect_rpc_error(lambda: stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"),
                                            timeout=self.remaining()),
                         grpc.StatusCode.NOT_FOUND, what="Check(\"no.such.Service\")")
        call = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=self.remaining())
        try:
            first = next(call)
            check(first.status == health_pb2.HealthCheckResponse.SERVING,
                  "Watch(\"\") first status %s, expected SERVING"
                  % health_pb2.HealthCheckResponse.ServingStatus.Name(first.status))
        except StopIteration:
            raise CaseFailed("Watch(\"\") ended without a message (status %s)" % code_name(call.code()))
        finally:
            call.cancel()
        return "Check SERVING; unknown service NOT_FOUND; Watch first SERVING"

    def _reflect(self, pb2, pb2_grpc, label):
        stub = pb2_grpc.ServerReflectionStub(self.channel)
        pipe = Pipe()
        call = stub.ServerReflectionInfo(pipe, timeout=self.remaining())
        try:
            def ask(**kw):
                pipe.add(pb2.ServerReflectionRequest(**kw))
                try:
                    resp = next(call)
                except StopIteration:
                    raise CaseFailed("%s: stream ended early (status %s)" % (label, code_name(call.code())))
                if resp.WhichOneof("message_response") == "error_response":
                    raise CaseFailed("%s: error_response %d %r for %r" % (
                        label, resp.error_response.error_code, resp.error_response.error_message, kw))
                return resp

            resp = ask(list_services="")
            check(resp.WhichOneof("message_response") == "list_services_response",
                  "%s: list_services answered with %s" % (label, resp.WhichOneof("message_response")))
            services = [s.name for s in resp.list_services_response.service]
            check(services, "%s: list_services returned no services" % label)
            # Servers may skip files already sent on this stream, so keep every file seen.
            files = {}
            for svc in services:
                resp = ask(file_containing_symbol=svc)
                check(resp.WhichOneof("message_response") == "file_descriptor_response",
                      "%s: file_containing_symbol(%s) answered with %s" % (label, svc, resp.WhichOneof("message_response")))
                raw = resp.file_descriptor_response.file_descriptor_proto
                for blob in raw:
                    fd = descriptor_pb2.FileDescriptorProto.FromString(blob)
                    files[fd.name] = fd
                defined = set()
                for fd in files.values():
                    for s in fd.service:
                        defined.add((fd.package + "." + s.name) if fd.package else s.name)
                check(svc in defined, "%s: %s is not defined in the returned descriptors (%d new files: %s)"
                      % (label, svc, len(raw), sorted(files)))
            pipe.close()
            extra = list(call)
            check(not extra, "%s: %d unexpected extra responses" % (label, len(extra)))
            check(call.code() == grpc.StatusCode.OK, "%s: stream status %s" % (label, code_name(call.code())))
            return services, sorted(files)
        finally:
            pipe.close()
            call.cancel()

    def reflection(self):
        services, files = self._reflect(P.refl_v1_pb2, P.refl_v1_pb2_grpc, "v1")
        services_a, _ = self._reflect(P.refl_v1a_pb2, P.refl_v1a_pb2_grpc, "v1alpha")
        check(sorted(services) == sorted(services_a),
              "v1alpha list_services %r differs from v1 %r" % (sorted(services_a), sorted(services)))
        self.extra = {"services": sorted(services)}
        return "%d services resolved via file_containing_symbol over v1 and v1alpha; files: %s" % (
            len(services), ", ".join(files))


def run_case(client, name, timeout):
    """Run one case in a worker thread so a wedged library call cannot hang us."""
    result = {}

    def body():
        client.extra = {}
        client.deadline = time.monotonic() + timeout
        try:
            result["detail"] = getattr(client, name)()
            result["ok"] = True
        except CaseFailed as e:
            result["ok"], result["detail"] = False, str(e)
        except grpc.RpcError as e:
            result["ok"] = False
            result["detail"] = "unexpected RPC error %s: %r" % (code_name(e.code()), e.details())
        except Exception as e:  # noqa: BLE001 - report anything as a failed case
            result["ok"], result["detail"] = False, "%s: %s" % (type(e).__name__, e)
        result.update(client.extra)

    t = threading.Thread(target=body, name="case-" + name, daemon=True)
    t.start()
    t.join(timeout + 2.0)
    if t.is_alive():
        return {"ok": False, "detail": "case did not finish within %.1f s" % timeout}
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, help="127.0.0.1:PORT or unix:/abs/path")
    ap.add_argument("--case", required=True,
                    help="case name, comma-separated list, or 'all' (= %s)" % ",".join(ALL_CASES))
    ap.add_argument("--timeout-seconds", type=float, default=10.0, help="time limit per case (default 10)")
    args = ap.parse_args()

    names = []
    for n in args.case.split(","):
        n = n.strip()
        names.extend(ALL_CASES if n == "all" else [n])
    target = common.grpc_core_address(args.target)
    channel = grpc.insecure_channel(target)
    client = Client(channel, args.timeout_seconds)
    try:
        grpc.channel_ready_future(channel).result(timeout=args.timeout_seconds)
    except grpc.FutureTimeoutError:
        common.log("channel to %s not ready after %.1f s; running cases anyway" % (target, args.timeout_seconds))

    all_ok = True
    for name in names:
        if name not in ALL_CASES and name not in EXTRA_CASES:
            res = {"ok": False, "detail": "unknown case"}
        else:
            start = time.monotonic()
            res = run_case(client, name, args.timeout_seconds)
            common.log("%s: %s in %.3f s" % (name, "ok" if res["ok"] else "FAILED", time.monotonic() - start))
        out = {"case": name, "ok": bool(res["ok"]), "detail": res.get("detail", "")}
        for k, v in res.items():
            if k not in out:
                out[k] = v
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
        all_ok = all_ok and out["ok"]
    return 0 if all_ok else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
