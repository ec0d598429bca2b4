// Runs `drizzle-kit generate` for every owner of tables: each folder under core/, plugins/,
// examples/ or test/ that holds a drizzle.config.ts (its schema.ts and migrations/ beside it).
// Extra arguments go to every run, e.g. `npm run gen:migrations -- --name add_labels`.
// Review and commit the generated SQL and meta/ files; they are applied at start-up.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const drizzleKit = join(root, 'node_modules', 'drizzle-kit', 'bin.cjs');
const SKIP = new Set(['node_modules', 'dist', 'migrations']);

function findConfigs(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP.has(entry.name) && !entry.name.startsWith('.'))
        found.push(...findConfigs(join(dir, entry.name)));
    } else if (entry.name === 'drizzle.config.ts') {
      found.push(join(dir, entry.name));
    }
  }
  return found;
}

const configs = ['core', 'plugins', 'examples', 'test']
  .map((top) => join(root, top))
  .filter((dir) => existsSync(dir))
  .flatMap(findConfigs)
  .map((path) => relative(root, path))
  .sort();

if (configs.length === 0) {
  console.log('no drizzle.config.ts found under core/, plugins/, examples/ or test/');
  process.exit(0);
}

const failed = [];
for (const config of configs) {
  console.log(`\n▶ drizzle-kit generate --config ${config}`);
  // drizzle.config.ts paths are relative to the repository root.
  const run = spawnSync(
    process.execPath,
    [drizzleKit, 'generate', '--config', config, ...process.argv.slice(2)],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (run.status !== 0) failed.push(config);
}

if (failed.length) {
  console.error(`\ndrizzle-kit generate failed for: ${failed.join(', ')}`);
  process.exit(1);
}
