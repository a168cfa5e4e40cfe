"""Shared helpers for the stock grpc-core (python3-grpcio) interop peers.

Loads the vendored interop, health and reflection protos by generating Python
stubs at run time with ``/usr/bin/python3 -m grpc_tools.protoc`` into the cache
directory ``.gen/`` next to this file.  Generation happens only when the cache
is missing or was made from different proto contents (a content hash is kept in
``.gen/.stamp``), and it is safe when several processes start at once: each one
generates into its own temporary directory and renames it into place.

The generated modules live in the ``grpc.testing``, ``grpc.health.v1`` and
``grpc.reflection.{v1,v1alpha}`` packages (that is what the protos' import
paths dictate).  Those names sit inside grpcio's own ``grpc`` package, so the
cache's ``grpc/`` folder is appended to ``grpc.__path__`` instead of putting
``.gen`` on ``sys.path`` (which would shadow grpcio itself).

Nothing here writes to stdout: stdout belongs to the peers' output contract.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

SYSTEM_PYTHON = "/usr/bin/python3"


def ensure_system_python():
    """Re-exec under /usr/bin/python3 when the Debian grpc module is not importable.

    The machine's default ``python3`` (pyenv) does not see Debian's
    python3-grpcio; the peers are meant to be run with /usr/bin/python3, but a
    wrong interpreter should not turn into a confusing ImportError.
    """
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and os.path.exists(SYSTEM_PYTHON) \
            and not os.environ.get("RELAY_INTEROP_REEXEC"):
        os.environ["RELAY_INTEROP_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    raise SystemExit("interop peer: cannot import grpc / grpc_tools; run with /usr/bin/python3 "
                     "(Debian python3-grpcio and python3-grpc-tools)")


HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP_DIR = os.path.normpath(os.path.join(HERE, "..", ".."))          # tests/Interop
REPO_ROOT = os.path.normpath(os.path.join(INTEROP_DIR, "..", ".."))     # repository root
GEN_DIR = os.path.join(HERE, ".gen")

# (include root, file relative to it).  Never /usr/share/grpc-proto.
PROTO_ROOTS = [os.path.join(INTEROP_DIR, "Protos"), os.path.join(REPO_ROOT, "protos")]
PROTO_FILES = [
    (0, "grpc/testing/empty.proto"),
    (0, "grpc/testing/messages.proto"),
    (0, "grpc/testing/test.proto"),
    (1, "grpc/health/v1/health.proto"),
    (1, "grpc/reflection/v1/reflection.proto"),
    (1, "grpc/reflection/v1alpha/reflection.proto"),
]
# Bump when the generation recipe changes, to force regeneration.
GEN_RECIPE = "1"


def log(*args):
    print("[%s %d]" % (os.path.basename(sys.argv[0]), os.getpid()), *args, file=sys.stderr, flush=True)


def _proto_hash():
    h = hashlib.sha256()
    h.update(("recipe=%s\n" % GEN_RECIPE).encode())
    for root, rel in PROTO_FILES:
        path = os.path.join(PROTO_ROOTS[root], rel)
        with open(path, "rb") as f:
            data = f.read()
        h.update(rel.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def _is_fresh(gen_dir, digest):
    try:
        with open(os.path.join(gen_dir, ".stamp")) as f:
            return f.read().strip() == digest
    except OSError:
        return False


def _generate(digest):
    tmp = tempfile.mkdtemp(prefix=".gen.tmp-", dir=HERE)
    try:
        cmd = [sys.executable, "-m", "grpc_tools.protoc"]
        cmd += ["-I" + r for r in PROTO_ROOTS]
        cmd += ["--python_out=" + tmp, "--grpc_python_out=" + tmp]
        cmd += [rel for _, rel in PROTO_FILES]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise RuntimeError("protoc failed (%d): %s" % (res.returncode, res.stdout.decode(errors="replace")))
        with open(os.path.join(tmp, ".stamp"), "w") as f:
            f.write(digest + "\n")
        os.chmod(tmp, 0o755)
        # Install atomically.  rename(dir, existing non-empty dir) fails on Linux,
        # so a stale cache is first moved aside; if another process wins the race
        # we simply use its (identical) result.
        for _ in range(5):
            if _is_fresh(GEN_DIR, digest):
                return
            if os.path.lexists(GEN_DIR):
                old = "%s.old-%d-%d" % (GEN_DIR, os.getpid(), int(time.time() * 1000))
                try:
                    os.rename(GEN_DIR, old)
                    shutil.rmtree(old, ignore_errors=True)
                except OSError:
                    pass
            try:
                os.rename(tmp, GEN_DIR)
                return
            except OSError:
                time.sleep(0.05)
        if not _is_fresh(GEN_DIR, digest):
            raise RuntimeError("could not install generated stubs into " + GEN_DIR)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def load_protos():
    """Generate (if needed) and import the stubs.  Returns a simple namespace."""
    digest = _proto_hash()
    if not _is_fresh(GEN_DIR, digest):
        log("generating python stubs into", GEN_DIR)
        _generate(digest)
    import grpc
    gen_grpc = os.path.join(GEN_DIR, "grpc")
    if gen_grpc not in grpc.__path__:
        grpc.__path__.append(gen_grpc)
    from grpc.testing import empty_pb2, messages_pb2, test_pb2, test_pb2_grpc  # noqa: F401
    from grpc.health.v1 import health_pb2, health_pb2_grpc
    from grpc.reflection.v1 import reflection_pb2 as refl_v1_pb2, reflection_pb2_grpc as refl_v1_pb2_grpc
    from grpc.reflection.v1alpha import reflection_pb2 as refl_v1a_pb2, reflection_pb2_grpc as refl_v1a_pb2_grpc

    class P:
        pass

    p = P()
    p.empty_pb2, p.messages_pb2, p.test_pb2_grpc = empty_pb2, messages_pb2, test_pb2_grpc
    p.health_pb2, p.health_pb2_grpc = health_pb2, health_pb2_grpc
    p.refl_v1_pb2, p.refl_v1_pb2_grpc = refl_v1_pb2, refl_v1_pb2_grpc
    p.refl_v1a_pb2, p.refl_v1a_pb2_grpc = refl_v1a_pb2, refl_v1a_pb2_grpc
    return p


def grpc_core_address(addr):
    """'127.0.0.1:PORT' stays as is; 'unix:/abs' or 'unix:///abs' becomes 'unix:/abs'."""
    if addr.startswith("unix:"):
        return "unix:" + unix_path(addr)
    return addr


def unix_path(addr):
    rest = addr[len("unix:"):]
    if rest.startswith("//"):
        rest = rest[2:]
    if not rest.startswith("/"):
        raise SystemExit("unix socket path must be absolute: " + addr)
    return rest


STATUS_BY_NUMBER = None


def status_code(number):
    """int -> grpc.StatusCode (UNKNOWN if out of range)."""
    global STATUS_BY_NUMBER
    import grpc
    if STATUS_BY_NUMBER is None:
        STATUS_BY_NUMBER = {c.value[0]: c for c in grpc.StatusCode}
    return STATUS_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)
