// drizzle-kit generate --config core/domain/applications/drizzle.config.ts (run from the repository root)
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './core/domain/applications/schema.ts',
  out: './core/domain/applications/migrations',
});
