/**
 * The `discovery:` config section. Timings are milliseconds; suspect_after_ms and dead_after_ms
 * are base values that the failure detector scales by log10(cluster size) (at least ×1), so a
 * large cluster, where news takes more rounds to spread, does not suspect healthy nodes.
 */
import * as v from 'valibot';

// Environment variables (IARNET_DISCOVERY__FANOUT=5) arrive as strings: accept decimal strings too.
const integer = (min: number, max: number) =>
  v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.regex(/^\d+$/, 'expected an integer'), v.transform(Number))]),
    v.integer('expected an integer'),
    v.minValue(min),
    v.maxValue(max),
  );
const ms = (min: number, max: number, def: number) => v.optional(integer(min, max), def);
const count = ms;
const flag = v.pipe(
  v.union([v.boolean(), v.picklist(['true', 'false', '1', '0'])], 'expected true or false'),
  v.transform((x) => x === true || x === 'true' || x === '1'),
);

export const discoveryConfigSchema = v.pipe(
  v.strictObject({
    enabled: v.optional(flag, true),
    gossip_interval_ms: ms(50, 60_000, 1000),
    /** Random peers contacted per round. */
    fanout: count(1, 16, 3),
    /** No heartbeat progress for this long → suspect. */
    suspect_after_ms: ms(100, 600_000, 5000),
    /** No heartbeat progress for this long → dead. */
    dead_after_ms: ms(200, 3_600_000, 15_000),
    /** Dead and left members are kept (so old news cannot revive them) this long, then forgotten. */
    tombstone_ttl_ms: ms(1000, 86_400_000, 300_000),
    /** Deadline of one gossip call. */
    rpc_timeout_ms: ms(50, 60_000, 2000),
    /** ≥ 32 characters; empty = open cluster (a warning is logged at start). */
    cluster_secret: v.optional(
      v.union([
        v.literal(''),
        v.pipe(v.string(), v.minLength(32, 'cluster_secret must be at least 32 characters')),
      ]),
      '',
    ),
    /** Accepted clock difference between peers for signed messages. */
    max_clock_skew_ms: ms(1000, 600_000, 30_000),
    /** Largest gRPC message accepted (bytes). */
    max_message_bytes: count(1024, 64 * 2 ** 20, 2 ** 20),
    /** Most members kept (self included); news about more is dropped. */
    max_members: count(2, 100_000, 1024),
    /** Most node entries (or digests, or known_peers) read from one message. */
    max_entries_per_message: count(1, 100_000, 1024),
    /** Most members one message may introduce. */
    max_new_per_message: count(1, 10_000, 64),
    /**
     * Most digests sent in one message: a cluster up to this size sends all of them; a larger one
     * sends a round-robin slice, so bytes per node stay bounded as the cluster grows.
     */
    digests_per_message: count(8, 100_000, 128),
    /** Most recently changed entries pushed unasked in one message (asked-for entries are not capped by this). */
    updates_per_message: count(1, 10_000, 16),
    /** Messages one peer may send this node per gossip interval (on average; 4 intervals' worth may come at once). */
    peer_messages_per_interval: count(1, 100_000, 10),
    /** Bytes one peer may send this node per gossip interval (on average). */
    peer_bytes_per_interval: count(1024, 2 ** 30, 2 * 2 ** 20),
    /**
     * TEST ONLY (partition tests; env IARNET_DISCOVERY__TEST_DROP_FILE): a file listing peer gRPC
     * addresses, one per line, whose calls this node drops (see fault.ts). Never set in production.
     */
    test_drop_file: v.optional(v.pipe(v.string(), v.minLength(1))),
    /** Accept loopback addresses from peers; default: only when this node itself listens on loopback. */
    allow_loopback: v.optional(flag),
  }),
  v.check((c) => c.suspect_after_ms < c.dead_after_ms, 'suspect_after_ms must be below dead_after_ms'),
);

export type DiscoveryConfig = v.InferOutput<typeof discoveryConfigSchema>;
