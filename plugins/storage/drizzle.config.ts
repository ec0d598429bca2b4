// drizzle-kit generate --config plugins/storage/drizzle.config.ts (run from the repository root)
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './plugins/storage/schema.ts',
  out: './plugins/storage/migrations',
});
