// The API reference page of one app (GET /api/<app>/_docs): Swagger UI over the app's OpenAPI
// document. The document depends on the caller, so it is fetched with a token: the admin console's
// session when this tab has one for the app (same origin, same tab: sessionStorage), else one the
// user pastes. Tokens stay in this tab's sessionStorage and only ever go to this origin.
/* global SwaggerUIBundle */
(() => {
  var app = document.body.getAttribute('data-app');
  var base = `/api/${encodeURIComponent(app)}`;
  var CONSOLE_KEY = 'rocket.console.session';
  var TOKEN_KEY = `rocket.docs.token.${app}`;
  var statusEl = document.getElementById('rocket-status');
  var form = document.getElementById('rocket-token-form');
  var input = document.getElementById('rocket-token');
  var pasted = null;
  var refreshing = null;

  function setStatus(text, bad) {
    statusEl.textContent = text;
    statusEl.className = bad ? 'bad' : '';
  }

  function read(key) {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return null;
    }
  }

  /** The console's session of this tab, when it is for this app (or a platform session). */
  function consoleSession() {
    try {
      const s = JSON.parse(read(CONSOLE_KEY) || 'null');
      if (s && typeof s.access === 'string' && (s.kind === 'platform' || s.app === app)) return s;
    } catch {
      /* not a session */
    }
    return null;
  }

  function claims(token) {
    var part = (token.split('.')[1] || '').replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  }

  /** The console session's access token, refreshed (and written back for the console) near expiry. */
  function sessionToken() {
    var s = consoleSession();
    if (!s) return Promise.resolve(null);
    if (s.exp * 1000 > Date.now() + 10000) return Promise.resolve(s.access);
    var auth = s.kind === 'platform' ? '/api/_platform/auth' : `${base}/auth`;
    refreshing =
      refreshing ||
      fetch(`${auth}/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: s.refresh }),
      })
        .then((res) => {
          if (!res.ok) return null;
          return res.json().then((body) => {
            var pair = body.data;
            var c = claims(pair.access_token);
            var next = Object.assign({}, s, {
              access: pair.access_token,
              refresh: pair.refresh_token,
              roles: c.roles || s.roles,
              exp: c.exp || Math.floor(Date.now() / 1000) + 900,
            });
            sessionStorage.setItem(CONSOLE_KEY, JSON.stringify(next));
            return next.access;
          });
        })
        .catch(() => null)
        .then((token) => {
          refreshing = null;
          return token;
        });
    return refreshing;
  }

  function currentToken() {
    if (pasted) return Promise.resolve(pasted);
    return sessionToken();
  }

  function sameOrigin(url) {
    try {
      return new URL(url, location.href).origin === location.origin;
    } catch {
      return false;
    }
  }

  function hasAuthorization(headers) {
    return Object.keys(headers || {}).some((h) => h.toLowerCase() === 'authorization');
  }

  function render(spec) {
    SwaggerUIBundle({
      spec: spec,
      dom_id: '#swagger-ui',
      validatorUrl: null,
      deepLinking: true,
      displayOperationId: true,
      defaultModelsExpandDepth: 0,
      docExpansion: 'list',
      filter: true,
      // "Try it out" requests carry the token unless the user set one with Authorize.
      requestInterceptor: (req) => {
        if (!sameOrigin(req.url) || hasAuthorization(req.headers)) return req;
        return currentToken().then((token) => {
          if (token) req.headers.Authorization = `Bearer ${token}`;
          return req;
        });
      },
    });
  }

  function load(source) {
    return currentToken().then((token) => {
      if (!token) {
        setStatus(`Paste an access token of this app (from POST ${base}/auth/login, or sign in to the console first).`, true);
        return;
      }
      setStatus('Loading…');
      return fetch(`${base}/_openapi`, { headers: { Authorization: `Bearer ${token}` } }).then((res) => {
        if (!res.ok) {
          return res
            .json()
            .catch(() => null)
            .then((body) => {
              var msg = body?.error ? body.error.message : `HTTP ${res.status}`;
              setStatus(`The document could not be loaded: ${msg}${res.status === 401 ? ' (paste a valid token)' : ''}`, true);
            });
        }
        return res.json().then((spec) => {
          render(spec);
          setStatus(`Showing what ${source} may use.`);
        });
      });
    });
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    var value = input.value.trim().replace(/^bearer\s+/i, '');
    if (!value) return;
    pasted = value;
    try {
      sessionStorage.setItem(TOKEN_KEY, value);
    } catch {
      /* storage unavailable: the token lives in memory only */
    }
    input.value = '';
    load('this token');
  });

  pasted = read(TOKEN_KEY);
  load(pasted ? 'this token' : 'your console session');
})();
