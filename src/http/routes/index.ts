import type { RouteModule } from '../server.js';

/**
 * Route modules beyond platform and app auth, in registration order. The
 * dynamic entity routes come last so every reserved prefix wins over `:entity`.
 */
export const ROUTE_MODULES: readonly RouteModule[] = [];
