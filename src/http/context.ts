import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { authenticateApp, authenticatePlatform } from '../auth/authenticate.js';
import type { Caller } from '../auth/caller.js';
import { RocketError, forbidden } from '../errors.js';
import { routeNotFound } from './errors.js';
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

/** A callback-style hook: on the hot path a loaded app is resolved without a promise or a microtask hop. */
type Hook = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void;

/** Options every area plugin receives from `app.register(area, { prefix, services })`. */
export interface AreaOptions {
  services: Services;
}

/** One area of the API as a Fastify plugin; it is registered with its prefix and adds its hooks to its own scope. */
export type Area = FastifyPluginAsync<AreaOptions>;

/** The app of `/api/:app/…` (404 APP_NOT_FOUND); the hook of the whole `/api/:app` scope, before the body is parsed. */
export function resolveApp(services: Services): Hook {
  return (request, _reply, done) => {
    const name = (request.params as { app?: string }).app ?? '';
    const live = services.apps.loaded(name);
    if (live) {
      request.rocketApp = live;
      return done();
    }
    // `/api/_platform/<unknown>` falls through to this scope: an unknown route, not an app.
    if (name === '_platform') return done(routeNotFound(request));
    services.apps.get(name).then((app) => {
      if (!app) return done(new RocketError('APP_NOT_FOUND', `App not found: ${name}`));
      request.rocketApp = app;
      done();
    }, done);
  };
}

/** Who may call the routes of a scope: any authenticated caller of the app, or its admins (and platform admins). */
export type Access = 'user' | 'admin';

/** Adds the onRequest hooks of `access` to a scope of `/api/:app` (they run after the app is resolved). */
export function requireAccess(scope: FastifyInstance, services: Services, access: Access): void {
  scope.addHook('onRequest', async (request) => {
    const app = request.rocketApp!;
    request.caller = await authenticateApp(
      request.headers.authorization,
      app.verifier,
      app.users,
      services.platform.verifier,
      services.platform.adminEmails,
    );
  });
  if (access === 'admin') {
    scope.addHook('onRequest', async (request) => {
      if (!request.caller?.isAdmin) throw forbidden('Admin access required');
    });
  }
}

/** `routes` in a scope of their own under `parent`, reachable with `access` only. */
export async function withAccess(
  parent: FastifyInstance,
  services: Services,
  access: Access,
  routes: (scope: FastifyInstance) => void | Promise<void>,
): Promise<void> {
  await parent.register(async (scope) => {
    requireAccess(scope, services, access);
    await routes(scope);
  });
}

/** Adds the platform-admin check (platform token with the platform_admin role) to a scope of `/api/_platform`. */
export function requirePlatformAdmin(scope: FastifyInstance, services: Services): void {
  scope.addHook('onRequest', async (request) => {
    const caller = await authenticatePlatform(request.headers.authorization, services.platform.verifier);
    if (!caller.roles.includes('platform_admin')) throw forbidden('Platform admin access required');
    request.caller = caller;
  });
}

export function appOf(request: FastifyRequest): AppRuntime {
  return request.rocketApp!;
}

export function callerOf(request: FastifyRequest): Caller {
  return request.caller!;
}
