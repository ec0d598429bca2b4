/**
 * Runtime conformance of GET /api/events/ws, the WebSocket twin of the SSE event stream, against a
 * real `iarnet` process on Node 20, Node 24, Bun and Deno: first-message and header
 * authentication, event frames equal to the SSE ones, 4401 on bad or late credentials, and a 1001
 * goodbye when the node shuts down.
 *
 * The client is the `ws` package (the test runner is Node 20, which has no global WebSocket).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeCommands, unavailable } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

const ADMIN_PASSWORD = 'conformance-admin-password-1';
const DOCKER_SOCKET = '/var/run/docker.sock';

/** The slice of the `ws` client used here (the project has no @types/ws). */
interface WsClient {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'open', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(
    event: 'unexpected-response',
    listener: (req: { destroy(): void }, res: { statusCode?: number }) => void,
  ): this;
  on(
    event: 'upgrade',
    listener: (res: { headers: Record<string, string | string[] | undefined> }) => void,
  ): this;
}
type WsConstructor = new (url: string, options?: { headers?: Record<string, string> }) => WsClient;

let WebSocketClient: WsConstructor;

interface Frame {
  id?: number;
  type: string;
  at: string;
  data: Record<string, unknown>;
}

/** A connected client that records frames and its close. */
class Client {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  /** Status of a refused handshake. */
  readonly refused: Promise<number | undefined>;
  upgradeHeaders: Record<string, string | string[] | undefined> = {};
  readonly #waiters = new Set<() => void>();
  readonly ws: WsClient;

  constructor(url: string, headers?: Record<string, string>) {
    this.ws = new WebSocketClient(url, headers ? { headers } : {});
    let refuse!: (status: number | undefined) => void;
    this.refused = new Promise((r) => {
      refuse = r;
    });
    this.ws.on('unexpected-response', (req, res) => {
      refuse(res.statusCode);
      // The answer may be an endless stream (SSE): drop the connection.
      req.destroy();
    });
    this.ws.on('upgrade', (res) => {
      this.upgradeHeaders = res.headers;
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.on('open', resolve);
      this.ws.on('error', reject);
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        refuse(undefined);
        resolve({ code, reason: reason.toString() });
        for (const w of this.#waiters) w();
      });
    });
    this.ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()));
      for (const w of this.#waiters) w();
    });
  }

  send(msg: unknown) {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The first frame matching `pred`, waiting up to `timeoutMs`. */
  async frame(pred: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#waiters.delete(done);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, 200);
        this.#waiters.add(done);
      });
    }
  }
}

beforeAll(async () => {
  // A variable specifier: `ws` has no type declarations in the project.
  const specifier = 'ws';
  WebSocketClient = ((await import(specifier)) as { WebSocket: WsConstructor }).WebSocket;
});

for (const runtime of runtimeCommands()) {
  const run =
    runtime.missing && unavailable(`${runtime.name}: ${runtime.missing}`) === 'skip'
      ? describe.skip
      : describe;

  run(`websocket events on ${runtime.name}`, () => {
    let node: RunningIarnet;
    let token: string;
    let wsUrl: string;
    const clients: Client[] = [];
    const connect = (headers?: Record<string, string>) => {
      const c = new Client(wsUrl, headers);
      clients.push(c);
      return c;
    };

    beforeAll(async () => {
      node = await spawnIarnet(runtime.argv, { env: { IARNET_ADMIN_PASSWORD: ADMIN_PASSWORD } });
      wsUrl = `${node.url.replace(/^http/, 'ws')}/api/events/ws`;
      const res = await fetch(`${node.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      });
      expect(res.status).toBe(200);
      token = ((await res.json()) as { token: string }).token;
    });
    afterAll(async () => {
      for (const c of clients) c.ws.close();
      await node?.stop('SIGKILL').catch(() => {});
    });

    const createResource = async (name: string) => {
      const res = await fetch(`${node.url}/api/resources`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ name, type: 'docker', url: `unix://${DOCKER_SOCKET}` }),
      });
      expect(res.status).toBe(201);
    };

    it('answers a plain GET with 426 and no credentials needed', async () => {
      const res = await fetch(`${node.url}/api/events/ws`);
      expect(res.status).toBe(426);
      expect(await res.json()).toMatchObject({ code: 'UPGRADE_REQUIRED' });
    });

    it('authenticates with the first message and streams the events the SSE stream sends', async () => {
      const sse = await fetch(`${node.url}/api/events`, { headers: { authorization: `Bearer ${token}` } });
      expect(sse.status).toBe(200);
      const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();

      const client = connect();
      await client.opened;
      client.send({ type: 'auth', token });
      const connected = await client.frame((f) => f.type === 'connected');
      expect(connected.data).toMatchObject({ name: 'admin', role: 'admin' });

      await createResource(`ws-${runtime.name}`);
      const event = await client.frame((f) => f.type === 'resource:changed');
      expect(event).toMatchObject({
        id: expect.any(Number),
        type: 'resource:changed',
        data: { name: `ws-${runtime.name}`, change: 'created' },
      });
      expect(Number.isNaN(Date.parse(event.at))).toBe(false);

      // The SSE stream carries the same event: same id, same {type, at, data}.
      let text = '';
      const idLine = `id: ${event.id}`;
      const block = () => text.split('\n\n').find((b) => b.split('\n').includes(idLine));
      const deadline = Date.now() + 10_000;
      // A block is complete once a later separator follows it.
      while (!block() || !text.slice(text.indexOf(idLine)).includes('\n\n')) {
        if (Date.now() > deadline) throw new Error(`SSE did not carry event ${event.id}: ${text}`);
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      await reader.cancel();
      const data = block()!
        .split('\n')
        .find((l) => l.startsWith('data: '))!
        .slice(6);
      expect(JSON.parse(data)).toEqual({ type: event.type, at: event.at, data: event.data });

      // Resuming with lastEventId replays what was missed.
      const resumed = connect();
      await resumed.opened;
      resumed.send({ type: 'auth', token, lastEventId: event.id! - 1 });
      expect(await resumed.frame((f) => f.id === event.id)).toEqual(event);
      resumed.ws.close();
    });

    it('accepts the Authorization header from non-browser clients, and refuses a bad one with 401', async () => {
      const client = connect({ authorization: `Bearer ${token}` });
      await client.opened;
      expect((await client.frame((f) => f.type === 'connected')).data).toMatchObject({ role: 'admin' });
      client.ws.close();

      const bad = connect({ authorization: 'Bearer not-a-token' });
      expect(await bad.refused).toBe(401);
    });

    it('answers an upgrade request to a route that does not upgrade with a plain status', async () => {
      const sse = new Client(wsUrl.replace(/\/ws$/, ''), { authorization: `Bearer ${token}` });
      clients.push(sse);
      expect(await sse.refused).toBe(200);
      const health = new Client(wsUrl.replace(/\/api\/events\/ws$/, '/healthz'));
      clients.push(health);
      expect(await health.refused).toBe(200);
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    });

    it('closes with 4401 on a bad token', async () => {
      const client = connect();
      await client.opened;
      client.send({ type: 'auth', token: `${token}x` });
      expect((await client.closed).code).toBe(4401);
      expect(client.frames).toEqual([]);
    });

    it('closes with 4401 on a first message that is not an auth message', async () => {
      const client = connect();
      await client.opened;
      client.send('hello');
      expect((await client.closed).code).toBe(4401);
    });

    it('closes with 4401 when no credentials arrive within 5 s', async () => {
      const started = Date.now();
      const client = connect();
      await client.opened;
      const { code } = await client.closed;
      expect(code).toBe(4401);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(4_500);
      expect(waited).toBeLessThan(9_000);
      expect(client.frames).toEqual([]);
    }, 15_000);

    it('says goodbye (1001) to open sockets and exits promptly on SIGTERM', async () => {
      const client = connect();
      await client.opened;
      client.send({ type: 'auth', token });
      await client.frame((f) => f.type === 'connected');
      const started = Date.now();
      const [code, closed] = await Promise.all([node.stop('SIGTERM'), client.closed]);
      expect(closed.code).toBe(1001);
      expect(code).toBe(0);
      // Well within http.shutdown_grace (10 s): the socket did not hold the drain up.
      expect(Date.now() - started).toBeLessThan(5_000);
    }, 20_000);
  });
}
