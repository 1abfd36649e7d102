// A load-generating child process of inventory_load.test.mjs (not a test file itself): it opens
// one TCP connection per buyer, reports "ready", and on "go" writes every buyer's one-seat hold
// request at once, then reports each answer's status, problem type, checkout id and timings.
// Several of these run side by side because one process may hold only about 20,000 files.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [port, eventId, ticketTypeId, workerIndex, buyers] = process.argv.slice(2);
const buyerCount = Number(buyers);
const connectBatch = 250;
const answerTimeoutMs = 120_000;

const now = () => performance.timeOrigin + performance.now();

function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: Number(port) });
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

function requestBytes(buyer) {
  const body = JSON.stringify({
    event_id: eventId,
    email: `load-${workerIndex}-${buyer}@example.com`,
    items: [{ ticket_type_id: ticketTypeId, quantity: 1 }],
  });
  return (
    'POST /api/v1/checkouts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

// Sends one request on `socket` and resolves to {status, type, id, sentAt, answeredAt}.
function exchange(socket, bytes) {
  return new Promise((resolve) => {
    let text = '';
    const sentAt = now();
    const finish = (outcome) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      socket.destroy();
      resolve({ ...outcome, sentAt, answeredAt: now() });
    };
    const timer = setTimeout(() => finish({ status: 0, type: `no answer within ${answerTimeoutMs} ms` }), answerTimeoutMs);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, headEnd));
      const length = lengthMatch ? Number(lengthMatch[1]) : 0;
      if (Buffer.byteLength(text.slice(headEnd + 4), 'latin1') < length) return;
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const body = text.slice(headEnd + 4, headEnd + 4 + length);
      let parsed = {};
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = { type: `unparsable body: ${body.slice(0, 200)}` };
      }
      finish({ status, type: parsed.type ?? null, id: status === 201 ? parsed.id : undefined });
    });
    socket.on('close', () => finish({ status: 0, type: `connection closed after ${JSON.stringify(text.slice(0, 200))}` }));
    socket.on('error', () => {});
    socket.write(bytes);
  });
}

const sockets = [];
const connectStarted = now();
try {
  for (let start = 0; start < buyerCount; start += connectBatch) {
    const batch = [];
    for (let i = start; i < Math.min(buyerCount, start + connectBatch); ++i) batch.push(connect());
    sockets.push(...(await Promise.all(batch)));
  }
} catch (error) {
  process.send({ kind: 'failed', message: `connection ${sockets.length} of worker ${workerIndex}: ${error.message}` });
  process.exit(1);
}
for (const socket of sockets) socket.on('error', () => {});
const payloads = sockets.map((_, i) => requestBytes(i));
process.send({ kind: 'ready', connections: sockets.length, connectMs: now() - connectStarted });

process.on('message', async (message) => {
  if (message.kind !== 'go') return;
  const pending = sockets.map((socket, i) => exchange(socket, payloads[i]));
  const results = await Promise.all(pending);
  process.send({ kind: 'done', results }, () => process.exit(0));
});
