/**
 * The auth plugin: users with roles, scrypt password hashes, HS256 login JWTs, hashed and
 * revocable API tokens, and the `auth:authenticate` handler the core guard calls for every
 * non-anonymous request.
 */
import { definePlugin } from '../../core/kernel/plugin.ts';
import { StorageKey } from '../../core/slots/storage.ts';
import { VERSION } from '../../core/version.ts';
import { authConfigSchema } from './config.ts';
import { loadOrCreateSecret, secretFileTooOpen } from './jwt.ts';
import { defaultParams } from './passwords.ts';
import { SlidingWindowLimiter } from './rate-limit.ts';
import { authRoutes } from './routes.ts';
import { AuthService } from './service.ts';

export const ADMIN_PASSWORD_ENV = 'IARNET_ADMIN_PASSWORD';

export default definePlugin({
  name: 'auth',
  version: VERSION,
  dependencies: ['storage'],
  configKey: 'auth',
  configSchema: authConfigSchema,
  async setup(ctx) {
    const { config, logger } = ctx;
    const storage = ctx.use(StorageKey);
    await storage.migrate('auth', new URL('./migrations/', import.meta.url));

    const secret = loadOrCreateSecret(config.jwt_secret, ctx.dataDir);
    if (secret.source === 'generated') {
      logger.info({ path: secret.path }, 'generated a new JWT signing key (mode 0600)');
    } else if (secret.source === 'file' && secret.path && secretFileTooOpen(secret.path)) {
      logger.warn({ path: secret.path }, 'the JWT signing key file is readable by others; chmod 600 it');
    }

    const scrypt = defaultParams(config.scrypt_log_n);
    if (config.scrypt_log_n < 16) {
      logger.warn(
        { scrypt_log_n: config.scrypt_log_n },
        'auth.scrypt_log_n is below 16: new password hashes are weak',
      );
    }
    const service = new AuthService({
      storage,
      scrypt,
      jwt: {
        secret: secret.secret,
        issuer: config.issuer,
        audience: config.audience,
        ttlSeconds: config.token_ttl,
      },
    });

    const envPassword = ctx.runtime.env()[ADMIN_PASSWORD_ENV];
    const boot = await service.bootstrapAdmin(envPassword, ADMIN_PASSWORD_ENV);
    if (boot.generated) {
      // The one place a secret goes to the log: there is no other way to hand it over.
      logger.warn(
        `No users existed, so an admin account was created. Username: admin  Password: ${boot.generated}  ` +
          `— log in and change it now (POST /api/auth/password); it will not be shown again. ` +
          `Set ${ADMIN_PASSWORD_ENV} before the first start to choose it yourself.`,
      );
    } else if (boot.created) {
      logger.info(
        { username: 'admin' },
        `created the admin account with the password from ${ADMIN_PASSWORD_ENV}`,
      );
    }
    // Hash the dummy password now, so the first unknown-user login is not faster than the rest.
    await service.warmUp();

    const window = { windowMs: 60_000 };
    const loginLimiter = new SlidingWindowLimiter({ ...window, limit: config.login_rate_limit });
    const passwordLimiter = new SlidingWindowLimiter({ ...window, limit: config.login_rate_limit });

    ctx.hooks.on('auth:authenticate', (request) => service.authenticate(request));
    ctx.http.allowAnonymous('POST', '/api/auth/login');
    ctx.http.routes((app) =>
      authRoutes(app, { service, loginLimiter, passwordLimiter, trustProxy: config.trust_proxy }),
    );
  },
});
