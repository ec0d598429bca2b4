#!/usr/bin/env node
/**
 * The `iarnet` command.
 *   iarnet [start] [--config FILE] [--listen ADDR] [--peer-listen ADDR] [--initial-peers a:50051,b:50051]
 *                  [--data-dir DIR] [--mode standalone|k8s] [--log-level LEVEL]
 *   iarnet plugins   set up and start every plugin, print the boot order with timings, stop
 *   iarnet --version | --help
 */
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBootTable } from './kernel/boot-table.ts';
import { type ConfigFlags, loadConfig } from './kernel/config.ts';
import { ConfigError, PluginError } from './kernel/errors.ts';
import { createLogger } from './kernel/logger.ts';
import { createNode } from './main.ts';
import { loadRuntime } from './runtime/index.ts';
import { VERSION } from './version.ts';

const HELP = `iarnet ${VERSION} — pool Docker engines, Kubernetes clusters and VMs

Usage: iarnet [start|plugins] [options]

Commands:
  start            run the node (default)
  plugins          print the plugin boot order and timings, then exit

Options:
  --config FILE            YAML config file (also IARNET_CONFIG)
  --listen ADDR            HTTP listen address, e.g. :8080 or 127.0.0.1:8080   (listen_addr)
  --peer-listen ADDR       gRPC peer listen address, e.g. :50051               (peer_listen_addr)
  --initial-peers LIST     comma-separated peers, e.g. node1:50051,node2:50051  (initial_peers)
  --data-dir DIR           where the database and keys live (default ./data)    (data_dir)
  --mode MODE              standalone or k8s                                    (mode)
  --log-level LEVEL        trace, debug, info, warn, error, fatal, silent        (logging.level)
  -h, --help               this help
  -v, --version            print the version

Every config key can also be set as IARNET_<KEY> (nested keys joined by __),
e.g. IARNET_LISTEN_ADDR=:9090 or IARNET_RESOURCE_LIMITS__CPU=8.
Precedence: defaults < config file < environment < flags.
`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    process.stderr.write(`iarnet: ${(e as Error).message}\nRun iarnet --help for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'start';
  if (!['start', 'plugins'].includes(command) || positionals.length > 1) {
    process.stderr.write(
      `iarnet: unknown command "${positionals.join(' ')}"\nRun iarnet --help for usage.\n`,
    );
    return 2;
  }

  const runtime = await loadRuntime();
  const flags: ConfigFlags = values;
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ flags, env: runtime.env() });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`iarnet: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const logger = createLogger(loaded.core.logging, { service: 'iarnet' });
  const baseDir = loaded.file ? dirname(resolve(loaded.file)) : process.cwd();

  let node: Awaited<ReturnType<typeof createNode>>;
  try {
    node = await createNode(loaded, { runtime, logger, baseDir });
    await node.start();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`iarnet: ${e.message}\n`);
      return 2;
    }
    logger.fatal({ err: e }, 'start-up failed');
    process.stderr.write(
      `iarnet: start-up failed: ${e instanceof PluginError ? e.message : (e as Error).message}\n`,
    );
    return 1;
  }

  if (command === 'plugins') {
    process.stdout.write(formatBootTable(node.host.timings));
    await node.stop();
    return 0;
  }

  await node.listen();
  return new Promise<number>((done) => {
    runtime.onShutdownSignal(async (signal: string) => {
      logger.info({ signal }, 'shutting down');
      try {
        await node.stop();
        logger.info('stopped');
        done(0);
      } catch (err) {
        logger.error({ err }, 'errors while stopping');
        done(1);
      }
    });
  });
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      config: { type: 'string', short: 'c' },
      listen: { type: 'string' },
      'peer-listen': { type: 'string' },
      'initial-peers': { type: 'string' },
      'data-dir': { type: 'string' },
      mode: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`iarnet: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
