// Free TCP ports for servers started by tests and benchmarks.
import { createServer } from 'node:net';

/**
 * Ask the kernel for an unused port on 127.0.0.1: bind to port 0, read what we
 * got, release it. Another process could grab it in between, which is rare
 * enough on a test machine that callers simply use it straight away.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not read the bound port'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
