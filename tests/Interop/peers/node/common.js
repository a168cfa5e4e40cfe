'use strict';
// Shared helpers for the stock grpc-js interop peers.
// Protos are loaded at run time with @grpc/proto-loader from the repository's
// vendored copies (never from /usr/share): tests/Interop/Protos for the interop
// protos and protos/ for health and reflection.

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const INTEROP_DIR = path.resolve(__dirname, '..', '..'); // tests/Interop
const REPO_ROOT = path.resolve(INTEROP_DIR, '..', '..');

const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [path.join(INTEROP_DIR, 'Protos'), path.join(REPO_ROOT, 'protos')],
};

function loadProtos() {
  const def = protoLoader.loadSync(
    [
      'grpc/testing/test.proto',
      'grpc/health/v1/health.proto',
      'grpc/reflection/v1/reflection.proto',
      'grpc/reflection/v1alpha/reflection.proto',
    ],
    LOADER_OPTIONS,
  );
  const root = grpc.loadPackageDefinition(def);
  return {
    testing: root.grpc.testing,
    health: root.grpc.health.v1,
    reflectionV1: root.grpc.reflection.v1,
    reflectionV1alpha: root.grpc.reflection.v1alpha,
  };
}

// '127.0.0.1:PORT' stays as is; 'unix:/abs' (or 'unix:///abs') becomes grpc-js's 'unix:///abs'.
function unixPath(addr) {
  let rest = addr.slice('unix:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  if (!rest.startsWith('/')) throw new Error(`unix socket path must be absolute: ${addr}`);
  return rest;
}

function grpcJsAddress(addr) {
  return addr.startsWith('unix:') ? 'unix://' + unixPath(addr) : addr;
}

function log(...args) {
  process.stderr.write(`[${path.basename(process.argv[1])} ${process.pid}] ${args.join(' ')}\n`);
}

// JSON with every non-ASCII character escaped, so stdout lines are plain ASCII.
function asciiJson(obj) {
  return JSON.stringify(obj).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function statusName(code) {
  for (const [k, v] of Object.entries(grpc.status)) if (v === code) return k;
  return String(code);
}

// Minimal flag parser: --name value | --name=value | --flag
function parseArgs(argv, spec) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (a === '-h' || a === '--help') return { help: true };
    if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`);
    a = a.slice(2);
    let value;
    const eq = a.indexOf('=');
    if (eq >= 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (!(a in spec)) throw new Error(`unknown option --${a}`);
    if (spec[a] === 'flag') {
      out[a] = true;
    } else {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new Error(`--${a} needs a value`);
        value = argv[++i];
      }
      out[a] = value;
    }
  }
  return out;
}

module.exports = { grpc, loadProtos, grpcJsAddress, unixPath, log, asciiJson, statusName, parseArgs };
