// Records a CPU profile of a workerd isolate over the V8 inspector protocol, for
// `cargo xtask profile` and `cargo xtask bench`.
//
//   node cpu_profile.mjs <inspector websocket url> <output .cpuprofile>
//
// Prints "started" once sampling runs and stops when stdin closes, so the caller
// decides exactly which load is sampled. The file opens in Chrome DevTools.
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';

const [url, out] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node cpu_profile.mjs <ws url> <out.cpuprofile>');
  process.exit(2);
}

const socket = new WebSocket(url);
const waiting = new Map();
let lastId = 0;
function call(method, params = {}) {
  return new Promise((resolve, reject) => {
    const id = ++lastId;
    waiting.set(id, { resolve, reject, method });
    socket.send(JSON.stringify({ id, method, params }));
  });
}
socket.on('message', (data) => {
  const message = JSON.parse(data);
  const pending = waiting.get(message.id);
  if (!pending) return;
  waiting.delete(message.id);
  if (message.error) pending.reject(new Error(`${pending.method}: ${JSON.stringify(message.error)}`));
  else pending.resolve(message.result);
});

try {
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  await call('Profiler.enable');
  // 100 µs: a request costs a few hundred µs of CPU, so the default 1 ms says little.
  await call('Profiler.setSamplingInterval', { interval: 100 });
  await call('Profiler.start');
  console.log('started');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('end', resolve));
  const { profile } = await call('Profiler.stop');
  writeFileSync(out, JSON.stringify(profile));
  console.log('written');
  socket.close();
} catch (err) {
  console.error(`cpu profile failed: ${err.message}`);
  process.exit(1);
}
