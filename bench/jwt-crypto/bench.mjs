// ES256 and RS256 JWTs: the runtime's WebCrypto (`crypto.subtle`) beside the RustCrypto
// crates built to wasm32 (this folder's crate), on the same keys and tokens, in one
// run: under Node, then (with --workerd) inside workerd, the gateway's runtime.
// `cargo xtask bench --jwt` builds the wasm and runs this; by hand:
//
//   node bench/jwt-crypto/bench.mjs <folder with jwt_crypto_bench.js (wasm-bindgen --target nodejs)> \
//     [--workerd <workerd binary> --compatibility-date <date> --workerd-wasm <folder (wasm-bindgen --target web)>]
//
// Keys are generated here with WebCrypto (P-256, RSA-2048 e=65537); the token is a
// Supabase-like access token. Before timing, both implementations must accept each
// other's signatures and refuse a tampered signature and a tampered token: a
// disagreement fails the run. Then each operation is warmed up and timed in batches
// (sequentially, one operation at a time, as one request verifies one token); the
// figure is the median batch's microseconds per operation, wall clock and process CPU
// (user + system, every thread: Node runs WebCrypto jobs on its thread pool).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';

const { subtle } = globalThis.crypto;
const require = createRequire(import.meta.url);

const USAGE =
  'usage: node bench.mjs <folder with jwt_crypto_bench.js> ' +
  '[--workerd <workerd binary> --compatibility-date <date> --workerd-wasm <folder of wasm-bindgen --target web>]';
const [bindings, ...rest] = process.argv.slice(2);
const options = {};
for (let i = 0; i < rest.length; i += 2) {
  if (!rest[i].startsWith('--') || rest[i + 1] === undefined) {
    console.error(USAGE);
    process.exit(2);
  }
  options[rest[i].slice(2)] = rest[i + 1];
}
const workerdOptions = ['workerd', 'compatibility-date', 'workerd-wasm'].map((o) => Boolean(options[o]));
if (!bindings || workerdOptions.some((given) => given !== workerdOptions[0])) {
  console.error(USAGE);
  process.exit(2);
}
const wasm = require(path.resolve(bindings, 'jwt_crypto_bench.js'));

/** Time one operation may take, warm-up and calibration aside. */
const BUDGET_MS = Number(process.env.JWT_BENCH_BUDGET_MS ?? 2500);
const MAX_ITERATIONS = 2000;
const MIN_ITERATIONS = 50;
const BATCHES = 5;

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const fromB64url = (text) => new Uint8Array(Buffer.from(text, 'base64url'));
const utf8 = (text) => new TextEncoder().encode(text);

function fail(message) {
  console.error(`jwt bench: ${message}`);
  process.exit(1);
}

/** The claims Supabase Auth puts in a user's access token. */
function supabaseClaims() {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: 'https://abcdefghijklmnopqrst.supabase.co/auth/v1',
    sub: '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b',
    aud: 'authenticated',
    exp: now + 3600,
    iat: now,
    email: 'customer@example.com',
    phone: '',
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: {
      email: 'customer@example.com',
      email_verified: true,
      phone_verified: false,
      sub: '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b',
    },
    role: 'authenticated',
    aal: 'aal1',
    amr: [{ method: 'password', timestamp: now }],
    session_id: '0a1b2c3d-4e5f-4061-8a2b-3c4d5e6f7a8b',
    is_anonymous: false,
  };
}

function signingInput(alg, kid) {
  const header = b64url(utf8(JSON.stringify({ alg, kid, typ: 'JWT' })));
  const payload = b64url(utf8(JSON.stringify(supabaseClaims())));
  return utf8(`${header}.${payload}`);
}

function tampered(bytes) {
  const copy = new Uint8Array(bytes);
  copy[copy.length >> 1] ^= 0x01;
  return copy;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' };
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };

async function setup() {
  const ec = await subtle.generateKey(EC, true, ['sign', 'verify']);
  const rsa = await subtle.generateKey(
    { ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ['sign', 'verify'],
  );
  const ecJwk = await subtle.exportKey('jwk', ec.privateKey);
  const ecPublicJwk = await subtle.exportKey('jwk', ec.publicKey);
  const rsaPublicJwk = await subtle.exportKey('jwk', rsa.publicKey);
  const es = signingInput('ES256', 'ec-1');
  const rs = signingInput('RS256', 'rsa-1');
  return {
    ec,
    rsa,
    ecPublicJwk,
    rsaPublicJwk,
    ecPrivateJwk: ecJwk,
    x: fromB64url(ecJwk.x),
    y: fromB64url(ecJwk.y),
    d: fromB64url(ecJwk.d),
    n: fromB64url(rsaPublicJwk.n),
    e: fromB64url(rsaPublicJwk.e),
    es,
    rs,
    esSig: new Uint8Array(await subtle.sign(ECDSA_SHA256, ec.privateKey, es)),
    rsSig: new Uint8Array(await subtle.sign(RSA, rsa.privateKey, rs)),
    wasmEsSig: wasm.sign_es256(fromB64url(ecJwk.d), es),
  };
}

/** Both implementations accept each other's signatures and refuse tampered ones. */
async function checkAgreement(k) {
  const webEs = (input, sig) => subtle.verify(ECDSA_SHA256, k.ec.publicKey, sig, input);
  const webRs = (input, sig) => subtle.verify(RSA, k.rsa.publicKey, sig, input);
  const wasmEs = (input, sig) => wasm.verify_es256(k.x, k.y, input, sig);
  const wasmRs = (input, sig) => wasm.verify_rs256(k.n, k.e, input, sig);
  if (k.wasmEsSig.length !== 64) fail(`wasm ES256 signature is ${k.wasmEsSig.length} bytes, not 64`);
  const cases = [
    ['WebCrypto ES256 signature, wasm verify', () => wasmEs(k.es, k.esSig), true],
    ['wasm ES256 signature, WebCrypto verify', () => webEs(k.es, k.wasmEsSig), true],
    ['wasm ES256 signature, wasm verify', () => wasmEs(k.es, k.wasmEsSig), true],
    ['WebCrypto RS256 signature, wasm verify', () => wasmRs(k.rs, k.rsSig), true],
    ['WebCrypto RS256 signature, WebCrypto verify', () => webRs(k.rs, k.rsSig), true],
    ['tampered ES256 signature, WebCrypto', () => webEs(k.es, tampered(k.esSig)), false],
    ['tampered ES256 signature, wasm', () => wasmEs(k.es, tampered(k.esSig)), false],
    ['tampered ES256 token, WebCrypto', () => webEs(tampered(k.es), k.esSig), false],
    ['tampered ES256 token, wasm', () => wasmEs(tampered(k.es), k.esSig), false],
    ['tampered RS256 signature, WebCrypto', () => webRs(k.rs, tampered(k.rsSig)), false],
    ['tampered RS256 signature, wasm', () => wasmRs(k.rs, tampered(k.rsSig)), false],
    ['tampered RS256 token, WebCrypto', () => webRs(tampered(k.rs), k.rsSig), false],
    ['tampered RS256 token, wasm', () => wasmRs(tampered(k.rs), k.rsSig), false],
    ['ES256 signature as RS256, wasm', () => wasmRs(k.rs, k.esSig), false],
  ];
  for (const [what, run, expected] of cases) {
    const got = await run();
    if (got !== expected) fail(`disagreement: ${what}: ${got}, expected ${expected}`);
  }
  return cases.length;
}

function cpuMicros() {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `op` run `n` times in a row (awaited one at a time when it is async). */
async function repeat(op, n) {
  const wallStart = process.hrtime.bigint();
  const cpuStart = cpuMicros();
  for (let i = 0; i < n; i++) {
    const out = op();
    if (out instanceof Promise) await out;
  }
  return {
    wall: Number(process.hrtime.bigint() - wallStart) / 1000 / n,
    cpu: (cpuMicros() - cpuStart) / n,
  };
}

/** Warm-up, a calibration that sizes the batches to the budget, then the batches. */
async function measure(op) {
  await repeat(op, 20);
  const probe = await repeat(op, 20);
  const fits = Math.floor((BUDGET_MS * 1000) / Math.max(probe.wall, 0.01));
  const iterations = Math.max(MIN_ITERATIONS, Math.min(MAX_ITERATIONS, fits));
  const per = Math.max(1, Math.round(iterations / BATCHES));
  const batches = [];
  for (let b = 0; b < BATCHES; b++) batches.push(await repeat(op, per));
  return {
    iterations: per * BATCHES,
    wall: median(batches.map((r) => r.wall)),
    cpu: median(batches.map((r) => r.cpu)),
  };
}

function fmt(us) {
  if (us >= 100) return us.toFixed(0);
  if (us >= 10) return us.toFixed(1);
  return us.toFixed(2);
}

function row(cells, widths) {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
}

async function main() {
  const started = Date.now();
  console.log(`node ${process.version}, ${BATCHES} batches per figure, up to ${MAX_ITERATIONS} operations (${BUDGET_MS} ms budget each)`);
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), load average ${load}`);
  const k = await setup();
  const checks = await checkAgreement(k);
  console.log(`agreement: ${checks} cross-checks passed (each accepts the other's signatures, both refuse tampered ones)`);
  console.log(`token: ${k.es.length + 1 + Math.ceil((64 * 4) / 3)} characters (ES256), ${k.rs.length + 1 + Math.ceil((256 * 4) / 3)} (RS256)`);

  const ops = [
    {
      name: 'ES256 verify',
      web: () => subtle.verify(ECDSA_SHA256, k.ec.publicKey, k.esSig, k.es),
      wasm: () => wasm.verify_es256(k.x, k.y, k.es, k.esSig),
    },
    {
      name: 'RS256 verify (2048-bit)',
      web: () => subtle.verify(RSA, k.rsa.publicKey, k.rsSig, k.rs),
      wasm: () => wasm.verify_rs256(k.n, k.e, k.rs, k.rsSig),
    },
    {
      name: 'ES256 sign',
      web: () => subtle.sign(ECDSA_SHA256, k.ec.privateKey, k.es),
      wasm: () => wasm.sign_es256(k.d, k.es),
    },
  ];
  const imports = [
    { name: 'importKey ES256 public JWK', run: () => subtle.importKey('jwk', k.ecPublicJwk, EC, false, ['verify']) },
    { name: 'importKey RS256 public JWK', run: () => subtle.importKey('jwk', k.rsaPublicJwk, RSA, false, ['verify']) },
    { name: 'importKey ES256 private JWK', run: () => subtle.importKey('jwk', k.ecPrivateJwk, EC, false, ['sign']) },
  ];

  const results = [];
  for (const op of ops) {
    const web = await measure(op.web);
    const rust = await measure(op.wasm);
    results.push({ op, web, rust });
  }
  const importResults = [];
  for (const imp of imports) importResults.push({ imp, r: await measure(imp.run) });

  const widths = [28, 10, 10, 10, 10, 10, 14];
  console.log('');
  console.log('µs per operation, median of batches (wall clock; CPU = process user + system time)');
  console.log(row(['operation', 'Web wall', 'Web CPU', 'wasm wall', 'wasm CPU', 'wasm/Web', 'ops Web/wasm'], widths));
  for (const { op, web, rust } of results) {
    console.log(
      row(
        [
          op.name,
          fmt(web.wall),
          fmt(web.cpu),
          fmt(rust.wall),
          fmt(rust.cpu),
          `${(rust.cpu / web.cpu).toFixed(1)}x`,
          `${web.iterations}/${rust.iterations}`,
        ],
        widths,
      ),
    );
  }
  console.log('');
  console.log('WebCrypto importKey, once per key per isolate when the CryptoKey is cached (the wasm figures above include parsing the key on every call):');
  for (const { imp, r } of importResults) {
    console.log(row([imp.name, fmt(r.wall), fmt(r.cpu), '', '', '', `${r.iterations}`], widths));
  }
  if (options.workerd) await inWorkerd(k, widths);
  console.log(`\ntiming run: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// WebCrypto inside workerd, the runtime the gateway runs in. workerd stops its clocks
// while a request executes, so the time is taken from outside: a worker verifies N
// times per request; the client times requests with N and with 0 operations, and
// reads workerd's CPU time from /proc around each series.

const WORKER_JS = `
import * as rust from './jwt_crypto_bench.js';
import rustModule from './jwt_crypto_bench_bg.wasm';
rust.initSync({ module: rustModule });
const EC = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' };
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
const bytes = (list) => new Uint8Array(list);
const tampered = (b) => { const c = new Uint8Array(b); c[c.length >> 1] ^= 1; return c; };
let s;
const OPS = {
  'es256-verify': () => crypto.subtle.verify(ECDSA_SHA256, s.ecKey, s.esSig, s.es),
  'rs256-verify': () => crypto.subtle.verify(RSA, s.rsaKey, s.rsSig, s.rs),
  'es256-sign': () => crypto.subtle.sign(ECDSA_SHA256, s.ecPrivate, s.es),
  'import-es256': () => crypto.subtle.importKey('jwk', s.ecPublicJwk, EC, false, ['verify']),
  'import-rs256': () => crypto.subtle.importKey('jwk', s.rsaPublicJwk, RSA, false, ['verify']),
  'import-es256-private': () => crypto.subtle.importKey('jwk', s.ecPrivateJwk, EC, false, ['sign']),
  'wasm-es256-verify': () => rust.verify_es256(s.x, s.y, s.es, s.esSig),
  'wasm-rs256-verify': () => rust.verify_rs256(s.n, s.e, s.rs, s.rsSig),
  'wasm-es256-sign': () => rust.sign_es256(s.d, s.es),
};
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/setup') {
      const j = await request.json();
      s = {
        ...j,
        es: bytes(j.es), esSig: bytes(j.esSig), wasmEsSig: bytes(j.wasmEsSig),
        rs: bytes(j.rs), rsSig: bytes(j.rsSig),
        x: bytes(j.x), y: bytes(j.y), d: bytes(j.d), n: bytes(j.n), e: bytes(j.e),
        ecKey: await crypto.subtle.importKey('jwk', j.ecPublicJwk, EC, false, ['verify']),
        rsaKey: await crypto.subtle.importKey('jwk', j.rsaPublicJwk, RSA, false, ['verify']),
        ecPrivate: await crypto.subtle.importKey('jwk', j.ecPrivateJwk, EC, false, ['sign']),
      };
      const own = new Uint8Array(await crypto.subtle.sign(ECDSA_SHA256, s.ecPrivate, s.es));
      return Response.json({
        own: Array.from(own),
        checks: [
          await crypto.subtle.verify(ECDSA_SHA256, s.ecKey, s.esSig, s.es),
          await crypto.subtle.verify(ECDSA_SHA256, s.ecKey, s.wasmEsSig, s.es),
          await crypto.subtle.verify(RSA, s.rsaKey, s.rsSig, s.rs),
          !(await crypto.subtle.verify(ECDSA_SHA256, s.ecKey, tampered(s.esSig), s.es)),
          !(await crypto.subtle.verify(ECDSA_SHA256, s.ecKey, s.esSig, tampered(s.es))),
          !(await crypto.subtle.verify(RSA, s.rsaKey, tampered(s.rsSig), s.rs)),
          !(await crypto.subtle.verify(RSA, s.rsaKey, s.rsSig, tampered(s.rs))),
          rust.verify_es256(s.x, s.y, s.es, s.esSig),
          rust.verify_es256(s.x, s.y, s.es, own),
          rust.verify_rs256(s.n, s.e, s.rs, s.rsSig),
          !rust.verify_es256(s.x, s.y, s.es, tampered(s.esSig)),
          !rust.verify_rs256(s.n, s.e, s.rs, tampered(s.rsSig)),
          await crypto.subtle.verify(ECDSA_SHA256, s.ecKey, rust.sign_es256(s.d, s.es), s.es),
        ],
      });
    }
    const op = OPS[url.searchParams.get('op')];
    const n = Number(url.searchParams.get('n'));
    if (!op || !s) return new Response('no such op, or no /setup yet', { status: 400 });
    for (let i = 0; i < n; i++) await op();
    return new Response('ok');
  },
};
`;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** workerd's user + system CPU time in µs (Linux /proc), or NaN elsewhere. */
function processCpuMicros(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
/** sysconf(_SC_CLK_TCK): 100 on Linux. */
const CLOCK_TICKS = 100;

async function timedGet(url) {
  const started = process.hrtime.bigint();
  const response = await fetch(url);
  const body = await response.text();
  const micros = Number(process.hrtime.bigint() - started) / 1000;
  if (!response.ok) fail(`workerd answered ${response.status} to ${url}: ${body}`);
  return micros;
}

async function inWorkerd(k, widths) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jwt-bench-workerd-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'worker.js'), WORKER_JS);
  for (const file of ['jwt_crypto_bench.js', 'jwt_crypto_bench_bg.wasm']) {
    fs.copyFileSync(path.join(options['workerd-wasm'], file), path.join(dir, file));
  }
  fs.writeFileSync(
    path.join(dir, 'config.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "bench", worker = .bench)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "bench")],
);
const bench :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "jwt_crypto_bench.js", esModule = embed "jwt_crypto_bench.js"),
    (name = "jwt_crypto_bench_bg.wasm", wasm = embed "jwt_crypto_bench_bg.wasm"),
  ],
  compatibilityDate = "${options['compatibility-date']}",
);
`,
  );
  const child = spawn(options.workerd, ['serve', path.join(dir, 'config.capnp')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const stop = () => child.exitCode === null && child.kill('SIGTERM');
  process.on('exit', stop);
  try {
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) fail(`workerd exited (${child.exitCode}):\n${log}`);
      try {
        await fetch(`${base}/`);
        break;
      } catch {
        if (Date.now() > deadline) fail(`workerd did not answer on ${base} within 30 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const setup = await fetch(`${base}/setup`, {
      method: 'POST',
      body: JSON.stringify({
        ecPublicJwk: k.ecPublicJwk,
        rsaPublicJwk: k.rsaPublicJwk,
        ecPrivateJwk: k.ecPrivateJwk,
        es: Array.from(k.es),
        esSig: Array.from(k.esSig),
        wasmEsSig: Array.from(k.wasmEsSig),
        rs: Array.from(k.rs),
        rsSig: Array.from(k.rsSig),
        ...Object.fromEntries(['x', 'y', 'd', 'n', 'e'].map((key) => [key, Array.from(k[key])])),
      }),
    });
    if (!setup.ok) fail(`workerd /setup: ${setup.status} ${await setup.text()}\n${log}`);
    const { own, checks } = await setup.json();
    if (!checks.every(Boolean)) fail(`disagreement inside workerd: checks ${JSON.stringify(checks)}`);
    if (!wasm.verify_es256(k.x, k.y, k.es, new Uint8Array(own))) {
      fail("disagreement: the wasm build refuses workerd's ES256 signature");
    }
    console.log(
      `\nworkerd ${options['compatibility-date']} (compatibility date), pid ${child.pid}: ${checks.length} cross-checks passed ` +
        '(accepts node\'s and the wasm\'s signatures, refuses tampered ones; the wasm accepts its signature)',
    );

    const ROUNDS = 15;
    /** One operation inside workerd: (median request with N - median with 0) / N. */
    const timeOp = async (op) => {
      const url = (n) => `${base}/run?op=${op}&n=${n}`;
      for (let i = 0; i < 3; i++) await timedGet(url(20));
      const probe = (await timedGet(url(50))) / 50;
      const n = Math.max(20, Math.min(2000, Math.round(60_000 / Math.max(probe, 1))));
      const zero = [];
      const full = [];
      let cpuZero = 0;
      let cpuFull = 0;
      for (let r = 0; r < ROUNDS; r++) {
        let before = processCpuMicros(child.pid);
        zero.push(await timedGet(url(0)));
        cpuZero += processCpuMicros(child.pid) - before;
        before = processCpuMicros(child.pid);
        full.push(await timedGet(url(n)));
        cpuFull += processCpuMicros(child.pid) - before;
      }
      return { wall: (median(full) - median(zero)) / n, cpu: (cpuFull - cpuZero) / (ROUNDS * n), n };
    };
    const cpuText = (cpu) => (Number.isNaN(cpu) ? 'n/a' : fmt(cpu));
    const ops = [
      ['ES256 verify', 'es256-verify', 'wasm-es256-verify'],
      ['RS256 verify (2048-bit)', 'rs256-verify', 'wasm-rs256-verify'],
      ['ES256 sign', 'es256-sign', 'wasm-es256-sign'],
    ];
    const imports = [
      ['importKey ES256 public JWK', 'import-es256'],
      ['importKey RS256 public JWK', 'import-rs256'],
      ['importKey ES256 private JWK', 'import-es256-private'],
    ];
    const timed = [];
    for (const [name, web, rust] of ops) timed.push([name, await timeOp(web), await timeOp(rust)]);
    const importTimed = [];
    for (const [name, op] of imports) importTimed.push([name, await timeOp(op)]);
    console.log(
      `µs per operation inside workerd, ${ROUNDS} requests with N operations and ${ROUNDS} with none: ` +
        '(median request with N - median with 0) / N; CPU = workerd\'s user + system time (/proc)',
    );
    console.log(row(['operation', 'Web wall', 'Web CPU', 'wasm wall', 'wasm CPU', 'wasm/Web', 'N Web/wasm'], widths));
    for (const [name, web, rust] of timed) {
      console.log(
        row(
          [
            name,
            fmt(web.wall),
            cpuText(web.cpu),
            fmt(rust.wall),
            cpuText(rust.cpu),
            Number.isNaN(web.cpu) ? `${(rust.wall / web.wall).toFixed(1)}x wall` : `${(rust.cpu / web.cpu).toFixed(1)}x`,
            `${web.n}/${rust.n}`,
          ],
          widths,
        ),
      );
    }
    console.log('WebCrypto importKey inside workerd:');
    for (const [name, r] of importTimed) {
      console.log(row([name, fmt(r.wall), cpuText(r.cpu), '', '', '', `${r.n}`], widths));
    }
  } finally {
    stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
