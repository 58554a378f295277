import http from 'node:http';

/**
 * The benchmark's receiver, in its own process so it does not share an event loop with the
 * system under test. Answers 200 at once (or after DELAY_MS for paths under /slow/), and
 * reports each arrival's webhook-id and time to the parent over IPC in small batches.
 */
const delayMs = Number(process.env.DELAY_MS ?? 2000);
let pending: [string, string, number][] = [];
const flush = () => {
  if (pending.length) process.send!(pending);
  pending = [];
};
setInterval(flush, 20).unref();

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    pending.push([req.url ?? '/', String(req.headers['webhook-id'] ?? ''), Date.now()]);
    if (pending.length >= 500) flush();
    const reply = () => {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    };
    if (req.url?.startsWith('/slow/')) setTimeout(reply, delayMs);
    else reply();
  });
});
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
process.on('disconnect', () => process.exit(0));
