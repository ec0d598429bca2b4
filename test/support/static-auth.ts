/** A test-only auth plugin: fixed bearer tokens per role. The real one is plugins/auth. */
import { unauthorized } from '../../core/kernel/errors.ts';
import { type AnyPlugin, definePlugin } from '../../core/kernel/plugin.ts';
import type { Role } from '../../core/slots/auth.ts';

export const TOKENS: Record<string, Role> = {
  'viewer-token': 'viewer',
  'operator-token': 'operator',
  'admin-token': 'admin',
};

export const staticAuth = definePlugin({
  name: 'static-auth',
  version: '0.0.0',
  setup(ctx) {
    ctx.hooks.on('auth:authenticate', (req) => {
      const header = req.headers.get('authorization');
      if (!header) return undefined;
      const role = TOKENS[header.replace(/^Bearer /, '')];
      if (!role) throw unauthorized('Unknown token');
      return { id: role, name: role, role, kind: 'token' };
    });
  },
}) as AnyPlugin;

export const bearer = (role: Role) => ({ authorization: `Bearer ${role}-token` });
