// drizzle-kit generate --config plugins/discovery/drizzle.config.ts (run from the repository root)
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './plugins/discovery/schema.ts',
  out: './plugins/discovery/migrations',
});
