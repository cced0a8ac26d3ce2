import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receiver {
  /** The receiver's URL on loopback, path `/hook`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts a real HTTP receiver on loopback for webhook tests. `respond` gets each request's body and
 * headers once the body is complete, and returns the status code of the response.
 */
export async function startReceiver(respond: (body: string, headers: IncomingHttpHeaders) => number): Promise<Receiver> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      response.statusCode = respond(Buffer.concat(chunks).toString('utf8'), request.headers);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
