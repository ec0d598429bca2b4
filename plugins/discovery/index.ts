/**
 * Discovery: IARNet nodes find each other by gossip over gRPC (proto/peer.proto) and share what
 * they have room for. Membership is a SWIM-style state machine (membership.ts) fed by push-pull
 * anti-entropy rounds (gossiper.ts); messages are HMAC-signed with discovery.cluster_secret.
 * Provides GET /api/nodes, node:joined / node:left / node:failed events and iarnet_peers metrics;
 * with the platform present it also places runs that do not fit locally on peers (placement.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import { EventBusKey } from '../../core/domain/events.ts';
import { LedgerReaderKey } from '../../core/domain/ledger/types.ts';
import { loadNodeId } from '../../core/domain/node-identity.ts';
import { ResourceCatalogKey } from '../../core/domain/resources/types.ts';
import { RunServiceKey } from '../../core/domain/runs.ts';
import { splitAddress } from '../../core/kernel/config.ts';
import { definePlugin } from '../../core/kernel/plugin.ts';
import { MetricsKey } from '../../core/slots/metrics.ts';
import { StorageKey } from '../../core/slots/storage.ts';
import { VERSION } from '../../core/version.ts';
import { checkPeerAddress, isLoopbackHost, splitHostPort } from './address.ts';
import { MessageAuth } from './auth.ts';
import { PeerBudget } from './budget.ts';
import { clientCredentials, PeerClients, type TlsFiles } from './client.ts';
import { discoveryConfigSchema } from './config.ts';
import { DropList, FaultyClients } from './fault.ts';
import { Gossiper } from './gossiper.ts';
import { type Member, Membership, type MembershipEvent, type ResourceSummary } from './membership.ts';
import { Placement } from './placement.ts';
import { RemoteControl } from './remote-control.ts';
import { RemoteRuns } from './remote-runs.ts';
import { discoveryRoutes } from './routes.ts';
import { PeerServer, serverCredentials } from './server.ts';
import { loadPeerWire } from './wire.ts';

const INCARNATION_FILE = 'discovery-incarnation';

/** A restart must outbid what peers remember of the previous life: stored + 1, at least the clock's seconds. */
function nextIncarnation(dataDir: string): number {
  const file = join(dataDir, INCARNATION_FILE);
  const stored = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || 0 : 0;
  const next = Math.max(stored + 1, Math.floor(Date.now() / 1000));
  saveIncarnation(dataDir, next);
  return next;
}
function saveIncarnation(dataDir: string, n: number): void {
  writeFileSync(join(dataDir, INCARNATION_FILE), `${n}\n`, { mode: 0o644 });
}

/** The address to advertise when only a wildcard listen address is configured. */
function firstExternalIPv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
const isWildcard = (h: string) => h === '' || h === '0.0.0.0' || h === '::';
const joinHostPort = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

export default definePlugin({
  name: 'discovery',
  version: VERSION,
  dependencies: ['storage'],
  optionalDependencies: ['platform', 'metrics'],
  configKey: 'discovery',
  configSchema: discoveryConfigSchema,
  timeouts: { stop: 15_000 },
  async setup(ctx) {
    const cfg = ctx.config;
    if (!cfg.enabled) {
      ctx.logger.info('discovery is disabled');
      return;
    }
    const log = ctx.logger;
    const nodeId = loadNodeId(ctx.dataDir, ctx.core.node_id);
    const incarnation = nextIncarnation(ctx.dataDir);
    const listen = splitAddress(ctx.core.peer_listen_addr);
    const configuredAdvertise = ctx.core.advertise_addr ? splitHostPort(ctx.core.advertise_addr) : undefined;
    let advertiseHost =
      configuredAdvertise?.host || (isWildcard(listen.host) ? firstExternalIPv4() : listen.host);
    const allowLoopback = cfg.allow_loopback ?? isLoopbackHost(advertiseHost);
    const checkAddress = (addr: string) => checkPeerAddress(addr, { allowLoopback });

    // Monotonic clock for the failure detector; wall time only for display.
    const mono = () => performance.now();
    const monoToWall = (t: number) => Date.now() - (performance.now() - t);

    const registry = ctx.tryUse(MetricsKey)?.registry;
    const events = ctx.tryUse(EventBusKey);
    const bytes = registry
      ? new Counter({
          name: 'iarnet_gossip_bytes_total',
          help: 'Bytes of gossip messages (gRPC payloads) sent and received',
          labelNames: ['direction'] as const,
          registers: [registry],
        })
      : undefined;
    const rounds = registry
      ? new Counter({ name: 'iarnet_gossip_rounds_total', help: 'Gossip rounds run', registers: [registry] })
      : undefined;
    const refused = registry
      ? new Counter({
          name: 'iarnet_gossip_refused_total',
          help: 'Gossip messages refused (unauthenticated, invalid, too large)',
          labelNames: ['reason'] as const,
          registers: [registry],
        })
      : undefined;

    const wire = loadPeerWire((direction, n) => bytes?.inc({ direction }, n));
    const onEvent = (e: MembershipEvent) => {
      if (e.type === 'refuted') {
        log.info(
          { incarnation: e.incarnation },
          'a peer suspected this node: refuted with a higher incarnation',
        );
        saveIncarnation(ctx.dataDir, e.incarnation);
        return;
      }
      const m = e.member;
      const data = { nodeId: m.id, address: m.grpcAddr, status: m.status, incarnation: m.incarnation };
      if (e.type === 'joined') {
        log.info(data, 'node joined');
        events?.emit('node:joined', data);
      } else if (e.type === 'left') {
        log.info(data, 'node left');
        events?.emit('node:left', data);
      } else if (e.type === 'failed') {
        log.warn(data, 'node failed (no heartbeat)');
        events?.emit('node:failed', data);
      } else if (e.type === 'suspect') {
        log.info(data, 'node suspected');
        events?.emit('node:suspect', data);
      } else if (e.type === 'alive') {
        log.info(data, 'node alive again');
        events?.emit('node:alive', data);
      }
    };

    const membership = new Membership({
      self: {
        id: nodeId,
        grpcAddr: joinHostPort(advertiseHost, configuredAdvertise?.port ?? listen.port),
        httpAddr: '',
        version: VERSION,
      },
      incarnation,
      now: mono,
      suspectAfterMs: cfg.suspect_after_ms,
      deadAfterMs: cfg.dead_after_ms,
      tombstoneTtlMs: cfg.tombstone_ttl_ms,
      maxMembers: cfg.max_members,
      maxNewPerMessage: cfg.max_new_per_message,
      stallMs: Math.max(cfg.suspect_after_ms / 2, 3 * cfg.gossip_interval_ms),
      checkAddress,
      onEvent,
    });

    if (registry) {
      new Gauge({
        name: 'iarnet_peers',
        help: 'Peers known to this node by status (this node not counted)',
        labelNames: ['status'] as const,
        registers: [registry],
        collect() {
          const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
          for (const m of membership.members()) if (m.id !== nodeId) counts[m.status]++;
          for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
        },
      });
    }

    const auth = cfg.cluster_secret
      ? new MessageAuth(cfg.cluster_secret, { maxClockSkewMs: cfg.max_clock_skew_ms })
      : undefined;
    const tls = ctx.core.grpc?.tls as TlsFiles | undefined;
    const clients = new PeerClients(wire, {
      credentials: clientCredentials(tls),
      maxMessageBytes: cfg.max_message_bytes,
      timeoutMs: cfg.rpc_timeout_ms,
      checkAddress,
    });
    // Test-only partitions (see fault.ts); unset in production.
    const dropFile = cfg.test_drop_file;
    const transport = dropFile ? new FaultyClients(clients, new DropList(dropFile)) : clients;
    const lastRefusalLog = new Map<string, number>();
    const noteRefusal = (where: string, peer: string, e: Error) => {
      refused?.inc({ reason: (e as { code?: string }).code ?? 'error' });
      // One line per peer and minute: a misconfigured or hostile peer must not flood the log.
      const key = `${where} ${peer}`;
      const last = lastRefusalLog.get(key) ?? 0;
      if (Date.now() - last < 60_000) return;
      if (lastRefusalLog.size > 1000) lastRefusalLog.clear();
      lastRefusalLog.set(key, Date.now());
      log.warn({ peer, where, reason: e.message }, 'refused a gossip message');
    };
    const seeds = ctx.core.initial_peers.filter((p) => {
      const bad = checkPeerAddress(p, { allowLoopback: true });
      if (bad) log.warn({ peer: p, reason: bad }, 'ignoring initial peer');
      return !bad;
    });
    const gossiper = new Gossiper({
      membership,
      ...(auth ? { auth } : {}),
      encodeRequest: (m) => wire.encodeRequest('ExchangePeers', m),
      encodeResponse: (m) => wire.encodeResponse('ExchangePeers', m),
      transport,
      seeds,
      fanout: cfg.fanout,
      maxEntriesPerMessage: cfg.max_entries_per_message,
      maxDigestsSent: cfg.digests_per_message,
      maxEntriesSent: cfg.updates_per_message,
      recentWindowMs: cfg.suspect_after_ms,
      checkAddress,
      onRefused: (peer, e) => noteRefusal('answer', peer, e),
    });

    // Starting containers for the network is only safe when peers prove membership: a cluster
    // secret, or mutual TLS (a CA that peer certificates must chain to).
    const authenticated = Boolean(auth) || Boolean(tls?.enabled && tls.ca_file);
    const runs = authenticated ? ctx.tryUse(RunServiceKey) : undefined;
    const placement = new Placement({
      membership,
      clients: transport,
      wire,
      ...(auth ? { auth } : {}),
      ...(runs ? { runs } : {}),
      nodeId,
      logger: log,
      timeoutMs: Math.max(cfg.rpc_timeout_ms, 30_000),
    });
    // Runs placed from here can be stopped from here; the peer obeys only the node that placed them.
    const ledgerReader = ctx.tryUse(LedgerReaderKey);
    const remoteRuns = runs ? new RemoteRuns(ctx.use(StorageKey)) : undefined;
    const remoteControl =
      runs && remoteRuns && ledgerReader
        ? new RemoteControl({
            membership,
            clients: transport,
            wire,
            ...(auth ? { auth } : {}),
            runs,
            allocation: (id) => ledgerReader.get(id),
            remoteRuns,
            runner: async (id) => {
              const catalog = ctx.tryUse(ResourceCatalogKey);
              if (!catalog) throw new Error('no resources module');
              return catalog.runner(id);
            },
            nodeId,
            logger: log,
            timeoutMs: Math.max(cfg.rpc_timeout_ms, 30_000),
          })
        : undefined;
    const server = new PeerServer({
      wire,
      gossiper,
      credentials: serverCredentials(tls),
      maxMessageBytes: cfg.max_message_bytes,
      budget: new PeerBudget({
        messagesPerInterval: cfg.peer_messages_per_interval,
        bytesPerInterval: cfg.peer_bytes_per_interval,
        intervalMs: cfg.gossip_interval_ms,
      }),
      ...(runs ? { placeRun: (req) => placement.handlePlaceRun(req) } : {}),
      ...(runs && remoteControl
        ? {
            stopRun: (req) => remoteControl.handleStopRun(req),
            runLogs: (req, signal) => remoteControl.handleRunLogs(req, signal),
            runStats: (req) => remoteControl.handleRunStats(req),
          }
        : {}),
      onRefused: (method, peer, e) => noteRefusal(method, peer, e),
    });
    if (runs && remoteRuns) {
      // Runs placed on peers are recorded here, so this node's container list and /status show them.
      await ctx.use(StorageKey).migrate('discovery', new URL('./migrations/', import.meta.url));
      ctx.hooks.on('run:overflow', async (req, principal) => {
        const placed = await placement.overflow(req, principal);
        if (placed) {
          await remoteRuns
            .record(placed, req, principal.id)
            .catch((err) => log.warn({ err, placed }, 'could not record a run placed on a peer'));
        }
        return placed;
      });
      ctx.hooks.on('containers:remote', async (list) => [...list, ...(await remoteRuns.list())]);
      ctx.hooks.on('containers:remote-control', (op, ref) => remoteControl!.control(op, ref));
      ctx.hooks.on('containers:remote-logs', (ref, opts) => remoteControl!.logs(ref, opts));
      ctx.hooks.on('containers:remote-stats', (ref) => remoteControl!.stats(ref));
    }

    // Resource summary from the ledger (limits from config, current from active allocations).
    const ledger = ctx.tryUse(LedgerReaderKey);
    const catalog = ctx.tryUse(ResourceCatalogKey);
    const limits = ctx.core.resource_limits;
    async function refreshResources(): Promise<void> {
      if (!ledger) return;
      const usage = await ledger.usageByResource();
      let cpuMilli = 0;
      let memory = 0;
      let gpu = 0;
      for (const u of usage.values()) {
        cpuMilli += u.cpuMilli;
        memory += u.memory;
        gpu += u.gpu;
      }
      const resourceCount = catalog
        ? (await catalog.list()).filter((r) => r.status === 'connected').length
        : 0;
      const summary: ResourceSummary = {
        limits: { cpu: limits.cpu, memory: limits.memory, gpu: limits.gpu },
        current: { cpu: cpuMilli / 1000, memory, gpu },
        available: {
          cpu: Math.max(0, (Math.round(limits.cpu * 1000) - cpuMilli) / 1000),
          memory: Math.max(0, limits.memory - memory),
          gpu: Math.max(0, limits.gpu - gpu),
        },
        resourceCount,
      };
      membership.updateSelf({ resources: summary });
    }
    events?.subscribe((e) => {
      // Booking changes move what peers may place here: publish them at the next round.
      if (e.type.startsWith('run:') || e.type.startsWith('container:')) resourcesDirty = true;
    });
    let resourcesDirty = true;

    ctx.hooks.on('http:listening', ({ url }) => {
      const u = new URL(url);
      const host = u.hostname.replace(/^\[|\]$/g, '');
      membership.updateSelf({
        httpAddr: joinHostPort(isWildcard(host) ? advertiseHost : host, Number(u.port)),
      });
    });
    ctx.http.routes((app) => discoveryRoutes(app, membership, monoToWall));

    let timer: ReturnType<typeof setTimeout> | undefined;
    let running: Promise<void> | undefined;
    let stopped = false;

    // The detector ticks on a timer of its own; an exchange round starts at a tick unless the
    // previous one is still waiting on slow peers. So tick gaps measure this process's own
    // stalls only (see Membership stallMs), never the time spent waiting for answers.
    const loop = () => {
      if (stopped) return;
      membership.tick();
      if (!running) {
        running = (async () => {
          try {
            if (resourcesDirty || gossiper.rounds % 10 === 0) {
              resourcesDirty = false;
              await refreshResources().catch((err) => log.debug({ err }, 'could not read the ledger'));
            }
            await gossiper.round(undefined, false);
            rounds?.inc();
            if (gossiper.rounds % 20 === 0) {
              clients.prune(
                new Set(
                  membership
                    .members()
                    .map((m: Member) => m.grpcAddr)
                    .concat(seeds),
                ),
              );
            }
          } catch (err) {
            log.warn({ err }, 'gossip round failed');
          }
        })().finally(() => {
          running = undefined;
        });
      }
      // ±10 % jitter keeps nodes started together from gossiping in lockstep.
      timer = setTimeout(loop, cfg.gossip_interval_ms * (0.9 + Math.random() * 0.2));
    };

    return {
      async start() {
        const port = await server.listen(listen.host, listen.port);
        if (!configuredAdvertise) {
          membership.updateSelf({ grpcAddr: joinHostPort(advertiseHost, port) });
        } else if (configuredAdvertise.port === 0) {
          advertiseHost = configuredAdvertise.host;
          membership.updateSelf({ grpcAddr: joinHostPort(advertiseHost, port) });
        }
        if (!authenticated && ctx.tryUse(RunServiceKey)) {
          log.warn(
            'runs are not placed on or taken from peers: set discovery.cluster_secret (or grpc.tls with a ca_file)',
          );
        }
        if (dropFile) {
          log.warn(
            { file: dropFile },
            'discovery.test_drop_file is set: peer calls to the addresses listed in it are dropped (test-only fault injection)',
          );
        }
        if (!auth) {
          log.warn(
            'discovery.cluster_secret is empty: the cluster is open, any host that reaches the peer port can join and gossip',
          );
        }
        log.info(
          { nodeId, incarnation, peerAddress: membership.self.grpcAddr, seeds, allowLoopback },
          'discovery listening',
        );
        loop();
      },
      async stop() {
        stopped = true;
        clearTimeout(timer);
        await running;
        // Tell peers we are leaving so they do not wait for the failure detector.
        await gossiper.leave(Math.min(cfg.rpc_timeout_ms, 1000)).catch(() => {});
        await server.stop(1000);
        clients.close();
      },
    };
  },
});
