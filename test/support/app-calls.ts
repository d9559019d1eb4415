import type { TestServer } from './server.js';

export type Method = 'post' | 'put' | 'get' | 'delete';

/**
 * Calls into one app as its admin: `admin('post', 'entities', def)` goes to `/api/<app>/_admin/entities`,
 * `rec('get', 'order/1')` to `/api/<app>/order/1`. Server and app are read when a call is made, so a test
 * file can take these at load time and set both in its beforeAll.
 */
export function appCalls(current: () => { server: TestServer; app: { name: string; token: string } }) {
  const call = (prefix: string) => (method: Method, path: string, body?: unknown) => {
    const { server, app } = current();
    return server.client[method](`/api/${app.name}/${prefix}${path}`, { token: app.token, body });
  };
  return { admin: call('_admin/'), rec: call('') };
}
