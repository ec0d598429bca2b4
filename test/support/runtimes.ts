/**
 * The four runtimes IARNet must run on, as commands that start the `iarnet` CLI.
 * Node runs the compiled dist/ (npm test builds it first); Bun and Deno run the TypeScript sources.
 * In CI (CI=true) a missing runtime is a failure; by hand it is skipped with a loud reason.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
const bin = (p: string) => join(ROOT, p);

export interface RuntimeCommand {
  name: 'node20' | 'node24' | 'bun' | 'deno';
  /** argv prefix that, followed by CLI arguments, runs iarnet. */
  argv: string[];
  /** Why this runtime cannot run here, if it cannot. */
  missing?: string;
}

export function runtimeCommands(): RuntimeCommand[] {
  const cli = bin('dist/core/cli.js');
  const builtMissing = existsSync(cli) ? undefined : `${cli} is missing: run npm run build first`;
  const node20 = process.execPath;
  const node24 = bin('node_modules/node24/bin/node');
  const bun = bin('node_modules/.bin/bun');
  const deno = bin('node_modules/.bin/deno');
  const check = (path: string, what: string) =>
    existsSync(path) ? undefined : `${what} not found at ${path} (npm ci installs it)`;
  return [
    {
      name: 'node20',
      argv: [node20, cli],
      missing: !process.versions.node.startsWith('20.')
        ? `the test runner is Node ${process.versions.node}, not 20`
        : builtMissing,
    },
    { name: 'node24', argv: [node24, cli], missing: check(node24, 'Node 24') ?? builtMissing },
    { name: 'bun', argv: [bun, 'run', bin('core/cli.ts')], missing: check(bun, 'Bun') },
    // Deno reads package.json and node_modules itself; -A because IARNet opens sockets, files and env.
    { name: 'deno', argv: [deno, 'run', '-A', '--quiet', bin('core/cli.ts')], missing: check(deno, 'Deno') },
  ];
}

/** In CI a missing environment fails; by hand it is skipped, loudly. */
export function unavailable(reason: string): 'skip' {
  if (process.env.CI === 'true') throw new Error(`required test environment is missing in CI: ${reason}`);
  console.warn(`\n*** SKIPPING: ${reason} ***\n`);
  return 'skip';
}
