/**
 * Runs under Node 20, Node 24, Bun and Deno (spawned by test/conformance/storage-drivers.test.ts):
 * opens a database through the runtime adapter and the storage plugin, exercises migrations and
 * transactions, then serves a Hono app through the adapter. Prints one line `RESULT <json>`.
 *
 *   <runtime> test/support/storage-driver-check.ts                 full check in a fresh temp dir
 *   <runtime> test/support/storage-driver-check.ts --shared <dir>  open <dir>'s database, add 1 to a counter
 *
 * TLS is checked when TLS_CERT_FILE and TLS_KEY_FILE name a certificate for 127.0.0.1.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import * as v from 'valibot';
import { coreConfigSchema } from '../../core/kernel/config.ts';
import { PluginHost } from '../../core/kernel/loader.ts';
import { silentLogger } from '../../core/kernel/logger.ts';
import { definePlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import type { Runtime, SqliteDb } from '../../core/runtime/types.ts';
import { StorageKey } from '../../core/slots/storage.ts';
import storagePlugin from '../../plugins/storage/index.ts';
import { counters, items } from './storage-fixture/schema.ts';

type Result = Record<string, unknown>;

const fixturePlugin = definePlugin({
  name: 'fixture',
  version: '0.0.0',
  dependencies: ['storage'],
  async setup(ctx) {
    await ctx.use(StorageKey).migrate('fixture', new URL('./storage-fixture/migrations/', import.meta.url));
  },
});

async function startHost(runtime: Runtime, dataDir: string) {
  const host = new PluginHost({
    plugins: [storagePlugin, fixturePlugin],
    core: v.parse(coreConfigSchema, { data_dir: dataDir }),
    runtime,
    logger: silentLogger(),
  });
  await host.setup();
  await host.start();
  return { host, storage: host.services.get(StorageKey) };
}

const count = async (db: SqliteDb, table: string) =>
  Number((await db.values<[number]>(sql.raw(`SELECT count(*) FROM "${table}"`)))[0]?.[0]);

const pragma = async (db: SqliteDb, name: string) => (await db.values(sql.raw(`PRAGMA ${name}`)))[0]?.[0];

const counterValue = async (db: SqliteDb, name: string) =>
  (await db.select().from(counters).where(eq(counters.name, name)))[0]?.value;

/** The driver's error under Drizzle's "Failed query" wrapper, as plain fields. */
function driverError(e: unknown) {
  let root = e;
  while (root instanceof Error && root.cause instanceof Error) root = root.cause;
  const r = root as { name?: string; message?: string; code?: unknown; errcode?: unknown; errstr?: unknown };
  return { name: r.name, message: r.message, code: r.code, errcode: r.errcode, errstr: r.errstr };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function checkStorage(runtime: Runtime, dataDir: string): Promise<Result> {
  const out: Result = {};
  const { host, storage } = await startHost(runtime, dataDir);
  const db = storage.db;
  out.driver = storage.driver;
  out.path = storage.path;
  out.pragmas = {
    journal_mode: await pragma(db, 'journal_mode'),
    foreign_keys: await pragma(db, 'foreign_keys'),
    busy_timeout: await pragma(db, 'busy_timeout'),
    synchronous: await pragma(db, 'synchronous'),
  };
  await storage.migrate('fixture', new URL('./storage-fixture/migrations/', import.meta.url));
  out.migrations = {
    fixture: await count(db, '__migrations_fixture'),
    storage: await count(db, '__migrations_storage'),
  };

  await storage.transaction(async (tx) => {
    await tx.insert(counters).values({ name: 'a', value: 1 });
  });
  out.committed = await counterValue(db, 'a');

  const thrown = await rejection(
    storage.transaction(async (tx) => {
      await tx.update(counters).set({ value: 99 }).where(eq(counters.name, 'a'));
      throw new Error('boom');
    }),
  );
  out.rollback = { error: (thrown as Error).message, valueAfter: await counterValue(db, 'a') };

  // Read, yield to the event loop (other transactions would run here if not serialized), write.
  await db.insert(counters).values({ name: 'concurrent', value: 0 });
  let active = 0;
  let maxActive = 0;
  await Promise.all(
    Array.from({ length: 50 }, () =>
      storage.transaction(async (tx) => {
        maxActive = Math.max(maxActive, ++active);
        const current = (await counterValue(tx, 'concurrent')) ?? 0;
        await sleep(0);
        await tx
          .update(counters)
          .set({ value: current + 1 })
          .where(eq(counters.name, 'concurrent'));
        active--;
      }),
    ),
  );
  out.concurrent = { value: await counterValue(db, 'concurrent'), maxActive };

  // The raw path (Storage.prepare + transactionSync) that quota admission uses: positional
  // parameters, rows as objects with numbers, changes, rollback, and serialized exact increments.
  const rawRead = storage.prepare('SELECT name, value FROM fixture_counters WHERE name = ?');
  const rawBump = storage.prepare('UPDATE fixture_counters SET value = value + ? WHERE name = ?');
  const rawInsert = storage.prepare('INSERT INTO fixture_counters (name, value) VALUES (?, ?)');
  const rawInserted = await storage.transactionSync(() => rawInsert.run('raw', 0).changes);
  const rawThrown = await rejection(
    storage.transactionSync(() => {
      rawBump.run(100, 'raw');
      throw new Error('raw boom');
    }),
  );
  const rawBumps = await Promise.all(
    Array.from({ length: 50 }, () => storage.transactionSync(() => rawBump.run(1, 'raw').changes)),
  );
  out.raw = {
    inserted: rawInserted,
    rollback: (rawThrown as Error).message,
    changes: rawBumps.every((c) => c === 1),
    row: { ...rawRead.all('raw')[0] },
    missing: rawRead.all('nobody').length,
  };
  // Leave the table as the later checks expect it.
  const rawDelete = storage.prepare('DELETE FROM fixture_counters WHERE name = ?');
  await storage.transactionSync(() => rawDelete.run('raw'));

  const nested = await rejection(storage.transaction(async () => storage.transaction(async () => 1)));
  out.nestedRefused = (nested as Error).message.includes('inside storage.transaction()');

  out.foreignKey = driverError(await rejection(db.insert(items).values({ counter: 'missing', label: 'x' })));
  out.unique = driverError(await rejection(db.insert(counters).values({ name: 'a' })));

  const run = (await db.update(counters).set({ value: 7 }).run()) as { changes?: unknown };
  out.runChanges = run.changes;
  const [returned] = await db.insert(items).values({ counter: 'a', label: 'first' }).returning();
  out.returning = returned;

  await storage.checkWritable();
  await host.hooks.call('health:ready');
  out.writable = true;

  await host.stop();
  out.afterStop = ((await rejection(storage.transaction(async () => 1))) as Error).message;
  return out;
}

async function checkShared(runtime: Runtime, dataDir: string): Promise<Result> {
  const { host, storage } = await startHost(runtime, dataDir);
  await storage.transaction(async (db) => {
    const current = await counterValue(db, 'shared');
    if (current === undefined) await db.insert(counters).values({ name: 'shared', value: 1 });
    else
      await db
        .update(counters)
        .set({ value: current + 1 })
        .where(eq(counters.name, 'shared'));
  });
  const out = {
    driver: storage.driver,
    shared: await counterValue(storage.db, 'shared'),
    migrations: {
      fixture: await count(storage.db, '__migrations_fixture'),
      storage: await count(storage.db, '__migrations_storage'),
    },
  };
  await host.stop();
  return out;
}

/** GET over TLS trusting only `ca`; node:https exists on all three runtimes. */
function httpsGet(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function checkServe(runtime: Runtime, workDir: string): Promise<Result> {
  const out: Result = {};
  const staticRoot = join(workDir, 'static');
  mkdirSync(staticRoot, { recursive: true });
  writeFileSync(join(staticRoot, 'hello.txt'), 'static hello');

  const app = new Hono();
  app.get('/hello', (c) => c.json({ hello: 'world' }));
  app.get('/slow', async (c) => {
    await sleep(300);
    return c.text('slow done');
  });
  app.get('/sse', (c) =>
    streamSSE(c, async (stream) => {
      for (let i = 0; i < 3; i++) {
        await stream.writeSSE({ data: String(i) });
        await stream.sleep(150);
      }
    }),
  );
  app.get('/forever', (c) =>
    streamSSE(c, async (stream) => {
      for (let i = 0; !stream.aborted && !stream.closed; i++) {
        await stream.writeSSE({ data: String(i) });
        await stream.sleep(100);
      }
    }),
  );
  app.use('/static/*', runtime.serveStatic({ root: staticRoot, prefix: '/static' }));

  const server = await runtime.serve(app.fetch, { hostname: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${server.port}`;
  out.port = server.port;
  out.hello = await (await fetch(`${base}/hello`)).json();
  const staticHit = await fetch(`${base}/static/hello.txt`);
  out.static = { status: staticHit.status, body: await staticHit.text() };
  const staticMiss = await fetch(`${base}/static/missing.txt`);
  await staticMiss.body?.cancel();
  out.staticMissing = staticMiss.status;

  // Events must arrive one by one, not all at the end of the stream.
  const t0 = performance.now();
  const sse = await fetch(`${base}/sse`);
  const arrivals: number[] = [];
  const decoder = new TextDecoder();
  let received = '';
  const reader = sse.body!.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const text = decoder.decode(value, { stream: true });
    for (const _ of text.matchAll(/^data:/gm)) arrivals.push(Math.round(performance.now() - t0));
    received += text;
  }
  out.sse = {
    contentType: sse.headers.get('content-type'),
    events: received.match(/^data: (\d+)$/gm),
    arrivals,
    streamed: arrivals.length === 3 && arrivals[2]! - arrivals[0]! >= 200,
  };

  // Graceful close: the request in flight finishes, then the port is closed.
  const slow = fetch(`${base}/slow`).then((r) => r.text());
  await sleep(50);
  const closeStart = performance.now();
  await server.close(5_000);
  out.gracefulClose = {
    inFlight: await slow.catch((e: Error) => `failed: ${e.message}`),
    ms: Math.round(performance.now() - closeStart),
    refusedAfter: await fetch(`${base}/hello`).then(
      () => false,
      () => true,
    ),
  };

  // Forced close: an endless event stream is cut when the grace period ends.
  const server2 = await runtime.serve(app.fetch, { hostname: '127.0.0.1', port: 0 });
  const endless = await fetch(`http://127.0.0.1:${server2.port}/forever`);
  const endlessReader = endless.body!.getReader();
  await endlessReader.read();
  const forcedStart = performance.now();
  await server2.close(300);
  const forcedMs = Math.round(performance.now() - forcedStart);
  const streamEnd = await (async () => {
    try {
      for (;;) if ((await endlessReader.read()).done) return 'ended';
    } catch {
      return 'errored';
    }
  })();
  out.forcedClose = { ms: forcedMs, stream: streamEnd };

  const certFile = process.env.TLS_CERT_FILE;
  const keyFile = process.env.TLS_KEY_FILE;
  if (certFile && keyFile) {
    const cert = readFileSync(certFile, 'utf8');
    const key = readFileSync(keyFile, 'utf8');
    const tlsServer = await runtime.serve(app.fetch, { hostname: '127.0.0.1', port: 0, tls: { cert, key } });
    try {
      out.tls = JSON.parse(await httpsGet(`https://127.0.0.1:${tlsServer.port}/hello`, cert));
    } catch (e) {
      out.tls = { error: (e as Error).message };
    } finally {
      await tlsServer.close(1_000);
    }
  } else {
    out.tls = 'not configured';
  }
  return out;
}

/**
 * An event stream quiet for longer than Bun's 10 s idle timeout must survive. Started first and
 * awaited last, so it overlaps the other checks.
 */
function startQuietStreamCheck(runtime: Runtime): Promise<Result> {
  const app = new Hono();
  app.get('/quiet', (c) =>
    streamSSE(c, async (stream) => {
      await stream.writeSSE({ data: 'before' });
      await stream.sleep(QUIET_MS);
      await stream.writeSSE({ data: 'after' });
    }),
  );
  return (async () => {
    const server = await runtime.serve(app.fetch, { hostname: '127.0.0.1', port: 0 });
    const t0 = performance.now();
    try {
      const body = await (await fetch(`http://127.0.0.1:${server.port}/quiet`)).text();
      return { events: body.match(/^data: \w+$/gm), ms: Math.round(performance.now() - t0) };
    } catch (e) {
      return { error: (e as Error).message, ms: Math.round(performance.now() - t0) };
    } finally {
      await server.close(1_000);
    }
  })();
}

const QUIET_MS = 11_000;

async function main(): Promise<Result> {
  const runtime = await loadRuntime();
  const result: Result = { runtime: runtime.name, version: runtime.version };
  const sharedAt = process.argv.indexOf('--shared');
  if (sharedAt >= 0) {
    const dir = process.argv[sharedAt + 1];
    if (!dir) throw new Error('--shared needs a directory');
    return { ...result, ...(await checkShared(runtime, dir)) };
  }
  const workDir = await mkdtemp(join(tmpdir(), 'iarnet-driver-check-'));
  const quiet = startQuietStreamCheck(runtime);
  try {
    result.storage = await checkStorage(runtime, join(workDir, 'data'));
    result.serve = await checkServe(runtime, workDir);
    result.quietStream = await quiet;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return result;
}

main().then(
  (result) => {
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    // Keep-alive sockets of the fetch client would hold some runtimes open for seconds.
    process.exit(0);
  },
  (error) => {
    process.stdout.write(`RESULT ${JSON.stringify({ error: String((error as Error)?.stack ?? error) })}\n`);
    process.exit(1);
  },
);
