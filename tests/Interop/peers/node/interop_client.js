#!/usr/bin/env node
'use strict';
// Stock grpc-js interop client for Relay's interop tests.
//
// Usage: node interop_client.js --target 127.0.0.1:PORT|unix:/abs/path
//                               --case NAME[,NAME...] [--timeout-seconds N]
//
// Prints one JSON object per case on stdout:
//   {"case": "...", "ok": true|false, "detail": "..."}   (reflection adds "services": [...])
// and nothing else (diagnostics go to stderr). Exit code 0 iff every case passed.

const descriptor = require('protobufjs/ext/descriptor');
const { grpc, loadProtos, grpcJsAddress, log, asciiJson, statusName, parseArgs } = require('./common');

const ALL_CASES = [
  'empty_unary', 'large_unary', 'client_streaming', 'server_streaming', 'ping_pong', 'empty_stream',
  'cancel_after_begin', 'cancel_after_first_response', 'timeout_on_sleeping_server',
  'status_code_and_message', 'special_status_message', 'custom_metadata',
  'unimplemented_method', 'unimplemented_service', 'compressed_unary',
];
const EXTRA_CASES = ['health', 'reflection'];

const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_INITIAL_VALUE = 'test_initial_metadata_value';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';
const ECHO_TRAILING_VALUE = Buffer.from([0xab, 0xab, 0xab]);
const SPECIAL_MESSAGE = '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1F608}\t\n';

const protos = loadProtos();
const S = grpc.status;

class CaseFailed extends Error {}

function check(cond, msg) {
  if (!cond) throw new CaseFailed(msg);
}

const zeros = (n) => ({ type: 'COMPRESSABLE', body: Buffer.alloc(n) });

function checkPayload(payload, size, what = 'response') {
  check(payload && Buffer.isBuffer(payload.body), `${what} has no payload`);
  check(payload.body.length === size, `${what} payload is ${payload.body.length} bytes, expected ${size}`);
  check(payload.body.equals(Buffer.alloc(size)), `${what} payload is not all zeros`);
}

function describeStatus(s) {
  return s ? `${statusName(s.code)} ${JSON.stringify(s.details)}` : 'no status';
}

function checkStatus(s, code, message, what) {
  check(s, `${what}: no status`);
  check(s.code === code, `${what}: expected ${statusName(code)}, got ${describeStatus(s)}`);
  if (message !== undefined) {
    check(s.details === message, `${what}: expected message ${JSON.stringify(message)}, got ${JSON.stringify(s.details)}`);
  }
}

function checkEchoedMetadata(initial, trailing, what) {
  const gi = initial ? initial.get(ECHO_INITIAL) : [];
  check(gi.length === 1 && gi[0] === ECHO_INITIAL_VALUE,
    `${what}: initial metadata ${ECHO_INITIAL} = ${JSON.stringify(gi)}, expected ["${ECHO_INITIAL_VALUE}"]`);
  const gt = trailing ? trailing.get(ECHO_TRAILING) : [];
  check(gt.length === 1 && Buffer.isBuffer(gt[0]) && gt[0].equals(ECHO_TRAILING_VALUE),
    `${what}: trailing metadata ${ECHO_TRAILING} = ${JSON.stringify(gt.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)))}, expected ["ababab"]`);
}

function echoMetadata() {
  const md = new grpc.Metadata();
  md.add(ECHO_INITIAL, ECHO_INITIAL_VALUE);
  md.add(ECHO_TRAILING, ECHO_TRAILING_VALUE);
  return md;
}

// Per-case context: the deadline and every call started, so they can be cancelled on exit.
class Ctx {
  constructor(timeoutMs) {
    this.deadlineMs = Date.now() + timeoutMs;
    this.calls = [];
  }
  opts() {
    return { deadline: new Date(this.deadlineMs) };
  }
  track(call) {
    this.calls.push(call);
    return call;
  }
  cancelAll() {
    for (const c of this.calls) {
      try {
        c.cancel();
      } catch (e) {
        /* ignore */
      }
    }
  }
}

// Unary or client-streaming call with a callback: resolves once both the
// callback and the 'status' event have fired.
function callbackCall(ctx, start) {
  return new Promise((resolve) => {
    const res = { err: null, resp: null, initial: null, status: null, call: null };
    let cbDone = false;
    const maybe = () => cbDone && res.status && resolve(res);
    res.call = ctx.track(start((err, resp) => {
      res.err = err;
      res.resp = resp;
      cbDone = true;
      maybe();
    }));
    res.call.on('metadata', (m) => (res.initial = m));
    res.call.on('status', (s) => {
      res.status = s;
      maybe();
    });
  });
}

// Readable / duplex stream wrapper with an awaitable next() and finished().
function reader(call) {
  const st = { msgs: [], waiters: [], initial: null, status: null, ended: false, error: null };
  const wake = () => st.waiters.splice(0).forEach((f) => f());
  const wait = () => new Promise((resolve) => st.waiters.push(resolve));
  call.on('metadata', (m) => {
    st.initial = m;
    wake();
  });
  call.on('data', (d) => {
    st.msgs.push(d);
    wake();
  });
  call.on('end', () => {
    st.ended = true;
    wake();
  });
  call.on('error', (e) => {
    st.error = e;
    st.ended = true;
    wake();
  });
  call.on('status', (s) => {
    st.status = s;
    wake();
  });
  st.next = async () => {
    for (;;) {
      if (st.msgs.length) return st.msgs.shift();
      if (st.ended) return null;
      await wait();
    }
  };
  st.finished = async () => {
    while (!(st.status && st.ended)) await wait();
    return st.status;
  };
  return st;
}

class Client {
  constructor(target) {
    const creds = grpc.credentials.createInsecure();
    this.test = new protos.testing.TestService(target, creds);
    this.testGzip = new protos.testing.TestService(target, creds, { 'grpc.default_compression_algorithm': 2 });
    this.unimplemented = new protos.testing.UnimplementedService(target, creds);
    this.healthClient = new protos.health.Health(target, creds);
    this.reflV1 = new protos.reflectionV1.ServerReflection(target, creds);
    this.reflV1alpha = new protos.reflectionV1alpha.ServerReflection(target, creds);
    this.extra = {};
  }

  close() {
    for (const c of [this.test, this.testGzip, this.unimplemented, this.healthClient, this.reflV1, this.reflV1alpha]) c.close();
  }

  unary(ctx, client, method, req, md = new grpc.Metadata(), opts = ctx.opts()) {
    return callbackCall(ctx, (cb) => client[method](req, md, opts, cb));
  }

  async empty_unary(ctx) {
    const r = await this.unary(ctx, this.test, 'EmptyCall', {});
    checkStatus(r.status, S.OK, undefined, 'EmptyCall');
    check(r.resp != null, 'EmptyCall: null response');
    return 'EmptyCall OK';
  }

  async large_unary(ctx) {
    const r = await this.unary(ctx, this.test, 'UnaryCall',
      { response_type: 'COMPRESSABLE', response_size: 314159, payload: zeros(271828) });
    checkStatus(r.status, S.OK, undefined, 'UnaryCall');
    checkPayload(r.resp.payload, 314159);
    return '271828 -> 314159 bytes';
  }

  async client_streaming(ctx) {
    const r = await callbackCall(ctx, (cb) => {
      const call = this.test.StreamingInputCall(new grpc.Metadata(), ctx.opts(), cb);
      for (const n of [27182, 8, 1828, 45904]) call.write({ payload: zeros(n) });
      call.end();
      return call;
    });
    checkStatus(r.status, S.OK, undefined, 'StreamingInputCall');
    check(r.resp.aggregated_payload_size === 74922,
      `aggregated_payload_size ${r.resp.aggregated_payload_size}, expected 74922`);
    return 'aggregated_payload_size 74922';
  }

  async server_streaming(ctx) {
    const sizes = [31415, 9, 2653, 58979];
    const call = ctx.track(this.test.StreamingOutputCall(
      { response_type: 'COMPRESSABLE', response_parameters: sizes.map((size) => ({ size })) },
      new grpc.Metadata(), ctx.opts()));
    const rd = reader(call);
    const got = [];
    for (let m = await rd.next(); m; m = await rd.next()) {
      check(got.length < sizes.length, `more than ${sizes.length} responses`);
      checkPayload(m.payload, sizes[got.length], `response ${got.length}`);
      got.push(m.payload.body.length);
    }
    checkStatus(await rd.finished(), S.OK, undefined, 'StreamingOutputCall');
    check(got.length === sizes.length, `got ${got.length} responses, expected ${sizes.length}`);
    return `sizes [${got.join(', ')}]`;
  }

  async ping_pong(ctx) {
    const reqSizes = [27182, 8, 1828, 45904];
    const respSizes = [31415, 9, 2653, 58979];
    const call = ctx.track(this.test.FullDuplexCall(new grpc.Metadata(), ctx.opts()));
    const rd = reader(call);
    for (let i = 0; i < reqSizes.length; i++) {
      call.write({ response_type: 'COMPRESSABLE', response_parameters: [{ size: respSizes[i] }], payload: zeros(reqSizes[i]) });
      const m = await rd.next();
      if (!m) throw new CaseFailed(`stream ended before response ${i} (${describeStatus(await rd.finished())})`);
      checkPayload(m.payload, respSizes[i], `response ${i}`);
    }
    call.end();
    const extra = await rd.next();
    check(extra === null, 'extra response after half-close');
    checkStatus(await rd.finished(), S.OK, undefined, 'FullDuplexCall');
    return '4 lockstep round trips';
  }

  async empty_stream(ctx) {
    const call = ctx.track(this.test.FullDuplexCall(new grpc.Metadata(), ctx.opts()));
    const rd = reader(call);
    call.end();
    const m = await rd.next();
    check(m === null, 'expected zero responses');
    checkStatus(await rd.finished(), S.OK, undefined, 'FullDuplexCall');
    return 'zero responses, OK';
  }

  async cancel_after_begin(ctx) {
    const r = await callbackCall(ctx, (cb) => {
      const call = this.test.StreamingInputCall(new grpc.Metadata(), ctx.opts(), cb);
      call.cancel();
      return call;
    });
    checkStatus(r.status, S.CANCELLED, undefined, 'StreamingInputCall');
    check(r.err && r.err.code === S.CANCELLED, `callback error ${r.err && statusName(r.err.code)}`);
    return 'CANCELLED';
  }

  async cancel_after_first_response(ctx) {
    const call = ctx.track(this.test.FullDuplexCall(new grpc.Metadata(), ctx.opts()));
    const rd = reader(call);
    call.write({ response_type: 'COMPRESSABLE', response_parameters: [{ size: 31415 }], payload: zeros(27182) });
    const m = await rd.next();
    check(m, `no first response (${describeStatus(rd.status)})`);
    checkPayload(m.payload, 31415);
    call.cancel();
    checkStatus(await rd.finished(), S.CANCELLED, undefined, 'FullDuplexCall');
    return 'CANCELLED after first response';
  }

  async timeout_on_sleeping_server(ctx) {
    const call = ctx.track(this.test.FullDuplexCall(new grpc.Metadata(), { deadline: new Date(Date.now() + 1) }));
    const rd = reader(call);
    call.write({ payload: zeros(27182) });
    checkStatus(await rd.finished(), S.DEADLINE_EXCEEDED, undefined, 'FullDuplexCall 1ms');
    return 'DEADLINE_EXCEEDED';
  }

  async status_code_and_message(ctx) {
    const st = { code: 2, message: 'test status message' };
    const r = await this.unary(ctx, this.test, 'UnaryCall', { response_status: st });
    checkStatus(r.status, S.UNKNOWN, st.message, 'UnaryCall');
    const call = ctx.track(this.test.FullDuplexCall(new grpc.Metadata(), ctx.opts()));
    const rd = reader(call);
    call.write({ response_status: st });
    call.end();
    while (await rd.next());
    checkStatus(await rd.finished(), S.UNKNOWN, st.message, 'FullDuplexCall');
    return "UNKNOWN 'test status message' for UnaryCall and FullDuplexCall";
  }

  async special_status_message(ctx) {
    const r = await this.unary(ctx, this.test, 'UnaryCall', { response_status: { code: 2, message: SPECIAL_MESSAGE } });
    checkStatus(r.status, S.UNKNOWN, SPECIAL_MESSAGE, 'UnaryCall');
    return 'message round-tripped exactly';
  }

  async custom_metadata(ctx) {
    const r = await this.unary(ctx, this.test, 'UnaryCall',
      { response_type: 'COMPRESSABLE', response_size: 314159, payload: zeros(271828) }, echoMetadata());
    checkStatus(r.status, S.OK, undefined, 'UnaryCall');
    checkPayload(r.resp.payload, 314159);
    checkEchoedMetadata(r.initial, r.status.metadata, 'UnaryCall');

    const call = ctx.track(this.test.FullDuplexCall(echoMetadata(), ctx.opts()));
    const rd = reader(call);
    call.write({ response_type: 'COMPRESSABLE', response_parameters: [{ size: 314159 }], payload: zeros(271828) });
    call.end();
    const got = [];
    for (let m = await rd.next(); m; m = await rd.next()) got.push(m);
    const status = await rd.finished();
    checkStatus(status, S.OK, undefined, 'FullDuplexCall');
    check(got.length === 1, `FullDuplexCall: ${got.length} responses, expected 1`);
    checkPayload(got[0].payload, 314159);
    checkEchoedMetadata(rd.initial, status.metadata, 'FullDuplexCall');
    return 'initial and trailing(-bin) metadata echoed for UnaryCall and FullDuplexCall';
  }

  async unimplemented_method(ctx) {
    const r = await this.unary(ctx, this.test, 'UnimplementedCall', {});
    checkStatus(r.status, S.UNIMPLEMENTED, undefined, 'TestService/UnimplementedCall');
    return 'UNIMPLEMENTED';
  }

  async unimplemented_service(ctx) {
    const r = await this.unary(ctx, this.unimplemented, 'UnimplementedCall', {});
    checkStatus(r.status, S.UNIMPLEMENTED, undefined, 'UnimplementedService/UnimplementedCall');
    return 'UNIMPLEMENTED';
  }

  async compressed_unary(ctx) {
    const req = (expect) => ({
      response_type: 'COMPRESSABLE', response_size: 314159, payload: zeros(271828), expect_compressed: { value: expect },
    });
    const notes = [];
    // 1. feature probe: uncompressed request that claims to be compressed.
    let r = await this.unary(ctx, this.test, 'UnaryCall', req(true));
    if (r.status.code === S.OK) notes.push('probe succeeded: server does not check expect_compressed');
    else {
      checkStatus(r.status, S.INVALID_ARGUMENT, undefined, 'probe (INVALID_ARGUMENT or OK expected)');
      notes.push('probe INVALID_ARGUMENT');
    }
    // 2. gzip-compressed request: the first call on a channel whose default compression is gzip.
    r = await this.unary(ctx, this.testGzip, 'UnaryCall', req(true));
    checkStatus(r.status, S.OK, undefined, 'gzip-compressed UnaryCall');
    checkPayload(r.resp.payload, 314159, 'compressed call response');
    notes.push('gzip request OK');
    // 3. uncompressed request.
    r = await this.unary(ctx, this.test, 'UnaryCall', req(false));
    checkStatus(r.status, S.OK, undefined, 'uncompressed UnaryCall');
    checkPayload(r.resp.payload, 314159, 'uncompressed call response');
    notes.push('identity request OK');
    return notes.join('; ');
  }

  async health(ctx) {
    let r = await this.unary(ctx, this.healthClient, 'Check', { service: '' });
    checkStatus(r.status, S.OK, undefined, 'Check("")');
    check(r.resp.status === 'SERVING', `Check(""): status ${r.resp.status}, expected SERVING`);
    r = await this.unary(ctx, this.healthClient, 'Check', { service: 'no.such.Service' });
    checkStatus(r.status, S.NOT_FOUND, undefined, 'Check("no.such.Service")');
    const call = ctx.track(this.healthClient.Watch({ service: '' }, new grpc.Metadata(), ctx.opts()));
    const rd = reader(call);
    const first = await rd.next();
    call.cancel();
    if (!first) throw new CaseFailed(`Watch(""): ended without a message (${describeStatus(await rd.finished())})`);
    check(first.status === 'SERVING', `Watch(""): first status ${first.status}, expected SERVING`);
    return 'Check SERVING; unknown service NOT_FOUND; Watch first SERVING';
  }

  async reflect(ctx, client, label) {
    const call = ctx.track(client.ServerReflectionInfo(new grpc.Metadata(), ctx.opts()));
    const rd = reader(call);
    const ask = async (req) => {
      call.write(req);
      const resp = await rd.next();
      if (!resp) throw new CaseFailed(`${label}: stream ended early (${describeStatus(await rd.finished())})`);
      if (resp.message_response === 'error_response') {
        throw new CaseFailed(`${label}: error_response ${resp.error_response.error_code} `
          + `${JSON.stringify(resp.error_response.error_message)} for ${JSON.stringify(req)}`);
      }
      return resp;
    };
    let resp = await ask({ list_services: '' });
    check(resp.message_response === 'list_services_response',
      `${label}: list_services answered with ${resp.message_response}`);
    const services = resp.list_services_response.service.map((s) => s.name);
    check(services.length > 0, `${label}: list_services returned no services`);
    // Servers may skip files already sent on this stream, so keep every file seen.
    const files = new Map();
    for (const svc of services) {
      resp = await ask({ file_containing_symbol: svc });
      check(resp.message_response === 'file_descriptor_response',
        `${label}: file_containing_symbol(${svc}) answered with ${resp.message_response}`);
      const raw = resp.file_descriptor_response.file_descriptor_proto;
      for (const blob of raw) {
        const fd = descriptor.FileDescriptorProto.decode(blob);
        files.set(fd.name, fd);
      }
      const defined = new Set();
      for (const fd of files.values()) {
        for (const s of fd.service || []) defined.add(fd.package ? `${fd.package}.${s.name}` : s.name);
      }
      check(defined.has(svc), `${label}: ${svc} is not defined in the returned descriptors `
        + `(${raw.length} new files: ${[...files.keys()].sort().join(', ')})`);
    }
    call.end();
    const extra = await rd.next();
    check(extra === null, `${label}: unexpected extra response`);
    checkStatus(await rd.finished(), S.OK, undefined, `${label} stream`);
    return { services, files: [...files.keys()].sort() };
  }

  async reflection(ctx) {
    const v1 = await this.reflect(ctx, this.reflV1, 'v1');
    const v1a = await this.reflect(ctx, this.reflV1alpha, 'v1alpha');
    const a = [...v1.services].sort();
    const b = [...v1a.services].sort();
    check(JSON.stringify(a) === JSON.stringify(b),
      `v1alpha list_services ${JSON.stringify(b)} differs from v1 ${JSON.stringify(a)}`);
    this.extra = { services: a };
    return `${a.length} services resolved via file_containing_symbol over v1 and v1alpha; files: ${v1.files.join(', ')}`;
  }
}

async function runCase(client, name, timeoutMs) {
  const ctx = new Ctx(timeoutMs);
  client.extra = {};
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `case did not finish within ${timeoutMs / 1000} s` }), timeoutMs + 2000);
  });
  const work = (async () => {
    try {
      const detail = await client[name](ctx);
      return { ok: true, detail, ...client.extra };
    } catch (e) {
      if (e instanceof CaseFailed) return { ok: false, detail: e.message, ...client.extra };
      return { ok: false, detail: `${e.name}: ${e.message}` };
    }
  })();
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    ctx.cancelAll();
  }
}

function waitForReady(client, ms) {
  return new Promise((resolve) => client.waitForReady(new Date(Date.now() + ms), (err) => resolve(err)));
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2), { target: 'value', case: 'value', 'timeout-seconds': 'value' });
    if (args.help) {
      process.stderr.write('usage: interop_client.js --target 127.0.0.1:PORT|unix:/abs/path --case NAME[,NAME...]|all [--timeout-seconds N]\n');
      return 0;
    }
    if (!args.target || !args.case) throw new Error('--target and --case are required');
  } catch (e) {
    log(e.message);
    return 2;
  }
  const timeoutSeconds = args['timeout-seconds'] !== undefined ? Number(args['timeout-seconds']) : 10;
  if (!(timeoutSeconds > 0)) {
    log('--timeout-seconds must be a positive number');
    return 2;
  }
  const timeoutMs = Math.round(timeoutSeconds * 1000);
  const names = [];
  for (let n of args.case.split(',')) {
    n = n.trim();
    if (n === 'all') names.push(...ALL_CASES);
    else names.push(n);
  }

  const target = grpcJsAddress(args.target);
  const client = new Client(target);
  const err = await waitForReady(client.test, timeoutMs);
  if (err) log(`channel to ${target} not ready after ${timeoutSeconds} s (${err.message}); running cases anyway`);

  let allOk = true;
  for (const name of names) {
    let res;
    if (!ALL_CASES.includes(name) && !EXTRA_CASES.includes(name)) {
      res = { ok: false, detail: 'unknown case' };
    } else {
      const start = process.hrtime.bigint();
      res = await runCase(client, name, timeoutMs);
      log(`${name}: ${res.ok ? 'ok' : 'FAILED'} in ${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(3)} s`);
    }
    const out = { case: name, ok: !!res.ok, detail: String(res.detail ?? '') };
    for (const [k, v] of Object.entries(res)) if (!(k in out)) out[k] = v;
    process.stdout.write(asciiJson(out) + '\n');
    allOk = allOk && out.ok;
  }
  client.close();
  return allOk ? 0 : 1;
}

main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e) => {
    log(`fatal: ${e && e.stack ? e.stack : e}`);
    process.exit(3);
  },
);
