import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PhoenixError } from '@phoenix/protocol';
import { DevstackErrors } from './errors.js';

/** Listens on host:port (0 = a free port) and resolves the port actually bound. */
export function listen(server: Server, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const code =
        err.code === 'EADDRINUSE' ? DevstackErrors.PHX_DEVSTACK_PORT_IN_USE : DevstackErrors.PHX_DEVSTACK_START_FAILED;
      reject(new PhoenixError(code, `${what} could not listen on ${host}:${port}: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

export function urlFor(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
