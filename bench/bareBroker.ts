/**
 * The ingest benchmark's baseline: a bare aedes broker, default options, no
 * hooks, no store. It is what the hub would cost if it did nothing but pass
 * readings through, so "hub / bare" is the price of auth, ACL, validation and
 * the durable group commit.
 *
 * Run as its own process (`node --import tsx bench/bareBroker.ts <port>`) so
 * its RSS and CPU time can be read from /proc like the hub's. Prints
 * `ready <port>` once listening; exits on SIGTERM.
 */
import { Aedes } from 'aedes';
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 0);
const broker = await Aedes.createBroker();
const server = createServer(broker.handle);

// Loopback only: the benchmark never exposes a broker without auth.
server.listen(port, '127.0.0.1', () => {
  const bound = (server.address() as { port: number }).port;
  process.stdout.write(`ready ${bound}\n`);
});

process.on('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
});
