/** A Runtime for unit tests of the kernel that never serve or open anything. */
import type { Runtime } from '../../core/runtime/types.ts';

export function fakeRuntime(env: Record<string, string | undefined> = {}): Runtime {
  const unsupported = () => {
    throw new Error('not available in the fake runtime');
  };
  return {
    name: 'node',
    version: 'test',
    serve: unsupported,
    serveStatic: unsupported,
    upgradeWebSocket: unsupported,
    openSqlite: unsupported,
    env: () => env,
    onShutdownSignal: () => {},
  };
}
