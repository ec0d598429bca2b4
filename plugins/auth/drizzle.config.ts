// drizzle-kit generate --config plugins/auth/drizzle.config.ts (run from the repository root)
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './plugins/auth/schema.ts',
  out: './plugins/auth/migrations',
});
