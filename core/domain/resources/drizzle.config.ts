// drizzle-kit generate --config core/domain/resources/drizzle.config.ts (run from the repository root)
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './core/domain/resources/schema.ts',
  out: './core/domain/resources/migrations',
});
