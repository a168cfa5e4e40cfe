#!/usr/bin/env node
'use strict';
// Stock grpc-js interop server for Relay's interop tests.
//
// Usage: node interop_server.js --listen 127.0.0.1:0|unix:/abs/path [--ignore-stdin]
//
// Serves grpc.testing.TestService (everything but UnimplementedCall, which
// grpc-js then answers with UNIMPLEMENTED) and grpc.health.v1.Health. Prints
// exactly one line `LISTENING <port-or-path>` on stdout once bound, then runs
// until SIGTERM, SIGINT or EOF on stdin (unless --ignore-stdin), exiting 0.

const fs = require('fs');
const { grpc, loadProtos, unixPath, log, parseArgs } = require('./common');

const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';

const protos = loadProtos();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Echo Metadata rule. Sends the initial echo right away and returns the trailers to use.
function echoMetadata(call) {
  const initial = call.metadata.get(ECHO_INITIAL);
  if (initial.length > 0) {
    const md = new grpc.Metadata();
    for (const v of initial) md.add(ECHO_INITIAL, v);
    call.sendMetadata(md);
  }
  const trailers = new grpc.Metadata();
  for (const v of call.metadata.get(ECHO_TRAILING)) trailers.add(ECHO_TRAILING, v);
  return trailers;
}

// Returns a status error object for Echo Status, or null.
function echoStatus(req, trailers) {
  const st = req.response_status;
  if (st && st.code !== 0) return { code: st.code, details: st.message, metadata: trailers };
  return null;
}

function payload(responseType, size) {
  if (responseType !== 'COMPRESSABLE' && responseType !== 0) {
    return { error: { code: grpc.status.INVALID_ARGUMENT, details: `unsupported response_type ${responseType}` } };
  }
  return { payload: { type: 'COMPRESSABLE', body: Buffer.alloc(size) } };
}

// Write the responses one request asks for, honouring interval_us. Returns an error or null.
async function respond(call, req, isDone) {
  for (const p of req.response_parameters) {
    if (p.interval_us > 0) await sleep(p.interval_us / 1000);
    if (isDone()) return null;
    const r = payload(req.response_type, p.size);
    if (r.error) return r.error;
    if (!call.write({ payload: r.payload })) {
      await new Promise((resolve) => {
        const t = setInterval(() => isDone() && (clearInterval(t), resolve()), 100);
        call.once('drain', () => (clearInterval(t), resolve()));
      });
    }
  }
  return null;
}

function failStream(call, err, trailers) {
  call.emit('error', { code: err.code, details: err.details, metadata: err.metadata || trailers });
}

const testService = {
  EmptyCall(call, callback) {
    callback(null, {});
  },

  UnaryCall(call, callback) {
    const trailers = echoMetadata(call);
    const req = call.request;
    // grpc-js hides the request's compression from handlers, so expect_compressed is not enforced.
    const err = echoStatus(req, trailers);
    if (err) return callback(err);
    const r = payload(req.response_type, req.response_size);
    if (r.error) return callback({ ...r.error, metadata: trailers });
    callback(null, { payload: r.payload }, trailers);
  },

  CacheableUnaryCall(call, callback) {
    callback(null, { payload: { type: 'COMPRESSABLE', body: Buffer.from(String(process.hrtime.bigint())) } });
  },

  StreamingInputCall(call, callback) {
    const trailers = echoMetadata(call);
    let total = 0;
    call.on('data', (req) => {
      total += req.payload ? req.payload.body.length : 0;
    });
    call.on('error', () => {});
    call.on('end', () => callback(null, { aggregated_payload_size: total }, trailers));
  },

  StreamingOutputCall(call) {
    const trailers = echoMetadata(call);
    let cancelled = false;
    call.on('cancelled', () => (cancelled = true));
    const err = echoStatus(call.request, trailers);
    if (err) return failStream(call, err, trailers);
    respond(call, call.request, () => cancelled).then((e) => {
      if (cancelled) return;
      if (e) failStream(call, e, trailers);
      else call.end(trailers);
    });
  },

  FullDuplexCall(call) {
    const trailers = echoMetadata(call);
    let done = false;
    let chain = Promise.resolve();
    call.on('cancelled', () => (done = true));
    call.on('error', () => (done = true));
    call.on('data', (req) => {
      chain = chain.then(async () => {
        if (done) return;
        const err = echoStatus(req, trailers) || (await respond(call, req, () => done));
        if (err && !done) {
          done = true;
          failStream(call, err, trailers);
        }
      });
    });
    call.on('end', () => {
      chain = chain.then(() => {
        if (!done) {
          done = true;
          call.end(trailers);
        }
      });
    });
  },

  HalfDuplexCall(call) {
    const trailers = echoMetadata(call);
    const reqs = [];
    let done = false;
    call.on('cancelled', () => (done = true));
    call.on('error', () => (done = true));
    call.on('data', (req) => reqs.push(req));
    call.on('end', async () => {
      for (const req of reqs) {
        const err = echoStatus(req, trailers);
        if (err) return failStream(call, err, trailers);
      }
      for (const req of reqs) {
        const err = await respond(call, req, () => done);
        if (done) return;
        if (err) return failStream(call, err, trailers);
      }
      call.end(trailers);
    });
  },
  // UnimplementedCall: deliberately absent.
};

const healthStatus = new Map([
  ['', 'SERVING'],
  ['grpc.testing.TestService', 'SERVING'],
]);

const healthService = {
  Check(call, callback) {
    const st = healthStatus.get(call.request.service);
    if (st === undefined) return callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
    callback(null, { status: st });
  },
  Watch(call) {
    call.write({ status: healthStatus.get(call.request.service) || 'SERVICE_UNKNOWN' });
    // Statuses never change here: the stream stays open until the client cancels
    // or the server shuts down.
    watchers.add(call);
    call.on('cancelled', () => watchers.delete(call));
  },
};
const watchers = new Set();

function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2), { listen: 'value', 'ignore-stdin': 'flag' });
    if (args.help) {
      process.stderr.write('usage: interop_server.js --listen 127.0.0.1:0|unix:/abs/path [--ignore-stdin]\n');
      process.exit(0);
    }
    if (!args.listen) throw new Error('--listen is required');
  } catch (e) {
    log(e.message);
    process.exit(2);
  }

  const server = new grpc.Server();
  server.addService(protos.testing.TestService.service, testService);
  server.addService(protos.health.Health.service, healthService);

  let bindAddr = args.listen;
  let sockPath = null;
  if (args.listen.startsWith('unix:')) {
    try {
      sockPath = unixPath(args.listen);
      if (fs.lstatSync(sockPath).isSocket()) fs.unlinkSync(sockPath);
    } catch (e) {
      if (e.code !== 'ENOENT') {
        log(e.message);
        process.exit(2);
      }
    }
    bindAddr = 'unix://' + sockPath;
  }

  let stopping = false;
  function shutdown(why) {
    if (stopping) return;
    stopping = true;
    log(`${why}: shutting down`);
    for (const w of watchers) w.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server shutting down' });
    const finish = () => {
      if (sockPath) {
        try {
          fs.unlinkSync(sockPath);
        } catch (e) {
          /* already gone */
        }
      }
      process.exit(0);
    };
    const force = setTimeout(() => {
      server.forceShutdown();
      finish();
    }, 1000);
    server.tryShutdown(() => {
      clearTimeout(force);
      finish();
    });
  }

  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  server.bindAsync(bindAddr, grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      log(`failed to bind ${args.listen}: ${err.message}`);
      process.exit(1);
    }
    process.stdout.write(`LISTENING ${sockPath !== null ? sockPath : port}\n`);
    if (!args['ignore-stdin']) {
      process.stdin.on('end', () => shutdown('stdin reached EOF'));
      process.stdin.on('error', () => shutdown('stdin error'));
      process.stdin.on('data', () => {});
      process.stdin.resume();
    }
  });
}

main();
