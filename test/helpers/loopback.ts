import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** An HTTP server of a test on a free port of 127.0.0.1, and how to stop it at once. */
export interface LoopbackServer {
  /** host:port */
  host: string;
  /** Ends every open connection (a held or keep-alive one would make close wait), then closes. */
  close(): Promise<void>;
}

/** Starts `handle` on 127.0.0.1 at a port the system picks, tracking connections for close(). */
export async function listenLoopback(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server = createServer(handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
