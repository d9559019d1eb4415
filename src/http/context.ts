import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateApp, authenticatePlatform } from '../auth/authenticate.js';
import type { Caller } from '../auth/caller.js';
import { RocketError, forbidden } from '../errors.js';
import type { FileService } from '../files/files.js';
import type { AppManager } from '../platform/app-manager.js';
import type { AppRuntime } from '../platform/app-runtime.js';
import type { Platform } from '../platform/platform.js';
import type { Realtime } from '../realtime/realtime.js';

declare module 'fastify' {
  interface FastifyRequest {
    rocketApp?: AppRuntime;
    caller?: Caller;
  }
}

export interface Services {
  platform: Platform;
  apps: AppManager;
  files: FileService;
  /** The realtime change feed (the command line builds it but never starts it). */
  realtime?: Realtime;
}

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** onRequest hooks, so the app and the caller are settled before the body is even parsed. */
export function hooks(services: Services) {
  const resolveApp: Hook = async (request) => {
    const name = (request.params as { app?: string }).app ?? '';
    const app = await services.apps.get(name);
    if (!app) throw new RocketError('APP_NOT_FOUND', `App not found: ${name}`);
    request.rocketApp = app;
  };

  const authenticate: Hook = async (request) => {
    const app = request.rocketApp!;
    request.caller = await authenticateApp(request.headers.authorization, app.verifier, app.users, services.platform.verifier);
  };

  const requireAdmin: Hook = async (request) => {
    if (!request.caller?.isAdmin) throw forbidden('Admin access required');
  };

  const platformAdmin: Hook = async (request) => {
    const caller = await authenticatePlatform(request.headers.authorization, services.platform.verifier);
    if (!caller.roles.includes('platform_admin')) throw forbidden('Platform admin access required');
    request.caller = caller;
  };

  return {
    /** Public app routes (auth/*). */
    app: [resolveApp],
    /** Any authenticated caller of the app. */
    user: [resolveApp, authenticate],
    /** App admins (and platform admins). */
    admin: [resolveApp, authenticate, requireAdmin],
    platformAdmin: [platformAdmin],
  };
}

export function appOf(request: FastifyRequest): AppRuntime {
  return request.rocketApp!;
}

export function callerOf(request: FastifyRequest): Caller {
  return request.caller!;
}
