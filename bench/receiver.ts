import http from 'node:http';

/**
 * The benchmark's receiver, in its own process so it does not share an event loop with the
 * system under test. Answers 200 at once (or after DELAY_MS for paths under /slow/), and
 * reports each arrival to the parent over IPC in small batches.
 *
 * IPC protocol (child → parent):
 *   first message   { port, hosts }   port listened on by every host in `hosts`
 *   then batches of [path, webhookId, arrivedAtMs, sentAtMs | null] tuples; sentAtMs is
 *   `data.sent_at_ms` read from the JSON body when present (the time the event was handed
 *   to the system under test), so the parent can compute ingest→receipt latency.
 * Env: DELAY_MS (default 2000); RECEIVER_HOSTS, comma-separated loopback addresses to listen
 * on with one port (default 127.0.0.1), so that each webhook can have its own origin.
 * It exits when the parent goes away.
 */
const delayMs = Number(process.env.DELAY_MS ?? 2000);
const hosts = (process.env.RECEIVER_HOSTS ?? '127.0.0.1').split(',').map((h) => h.trim()).filter(Boolean);
for (const h of hosts) if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) && h !== '::1') throw new Error(`receiver: ${h} is not a loopback address`);

type Arrival = [string, string, number, number | null];
let pending: Arrival[] = [];
const flush = () => {
  if (pending.length && process.connected) process.send!(pending);
  pending = [];
};
setInterval(flush, 20).unref();

// The body is the service's JSON; a full parse per request would make the receiver the
// bottleneck of the ceiling run, so only the one number is picked out.
const SENT_AT = /"sent_at_ms":(\d+)/;

const handler: http.RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const arrivedAt = Date.now();
    const m = SENT_AT.exec(chunks.length === 1 ? chunks[0].toString('latin1') : Buffer.concat(chunks).toString('latin1'));
    pending.push([req.url ?? '/', String(req.headers['webhook-id'] ?? ''), arrivedAt, m ? Number(m[1]) : null]);
    if (pending.length >= 500) flush();
    const reply = () => {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    };
    if (req.url?.startsWith('/slow/')) setTimeout(reply, delayMs);
    else reply();
  });
};

const servers: http.Server[] = [];
const listen = (host: string, port: number) =>
  new Promise<number>((resolve, reject) => {
    const server = http.createServer({ keepAliveTimeout: 60_000 }, handler);
    server.once('error', reject);
    server.listen(port, host, () => {
      servers.push(server);
      resolve((server.address() as { port: number }).port);
    });
  });

async function start(): Promise<number> {
  // The first host picks a free port; the others take the same one. Retry a few times if
  // that port happens to be taken on another address.
  for (let attempt = 0; ; attempt++) {
    const port = await listen(hosts[0], 0);
    try {
      for (const h of hosts.slice(1)) await listen(h, port);
      return port;
    } catch (err) {
      await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
      if (attempt >= 5) throw err;
    }
  }
}

start().then(
  (port) => process.send!({ port, hosts }),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
process.on('disconnect', () => process.exit(0));
