// A real OpenID provider (the certified `oidc-provider` package) on loopback for the
// integration tests, with a few control endpoints under /_test/ that script its users
// and corrupt its ID tokens on demand. Started by tests/src/oidc.rs; README.md beside
// this file describes the configuration and the endpoints.

import http from 'node:http';
import { randomBytes } from 'node:crypto';

import * as jose from 'jose';

// stdout carries exactly one line (the ready line). oidc-provider prints notices and
// quick-start warnings through console; they are advice for production set-ups, not
// errors, so they are dropped and everything else goes to stderr.
for (const level of ['log', 'info', 'warn', 'debug']) {
  console[level] = (...args) => {
    const line = args.map(String).join(' ');
    if (/^oidc-provider (NOTICE|WARNING):/.test(line) || /^ {2}- |^Breaking changes|^You may disable/.test(line)) {
      return;
    }
    process.stderr.write(`${line}\n`);
  };
}

// The provider's signing key is made here, not by oidc-provider, so that the tamper
// endpoint can re-sign rewritten ID tokens with it. Made while the package loads
// (RSA key generation runs off the main thread).
const KID = 'krv-test-idp';
const signingKeyMade = newSigningKey();

// Imported after the console is quieted: the package warns at import time on Node 20
// (its supported runtimes start at 22, and it runs on 20 all the same).
const { default: Provider } = await import('oidc-provider');

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const config = JSON.parse(process.env.IDP_CONFIG ?? '{}');

// The issuer names the port, so the server listens before the provider exists.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port ?? 0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const signingKey = await signingKeyMade;

// Logins queued by POST /_test/next-login, served in order to the next interactions.
const pendingLogins = [];
// Claims per grant (each login or device approval makes one grant), and per account
// as a fallback for lookups that carry no grant.
const claimsByGrant = new Map();
const claimsBySub = new Map();
// The rewrite for the next token response that carries an ID token, if any.
let pendingTamper = null;

const TAMPER_MODES = new Set(['wrong_audience', 'expired', 'other_key', 'wrong_nonce', 'wrong_issuer', 'alg_none']);

const clients = (config.clients ?? []).map(({ grant_types: grantTypes, ...client }) => {
  const grants = grantTypes ?? ['authorization_code', 'refresh_token', DEVICE_GRANT];
  return {
    grant_types: grants,
    response_types: grants.includes('authorization_code') ? ['code'] : [],
    ...client,
  };
});

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey.jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount,
  // Claims of the scopes; `groups` comes with `profile` or its own scope. With
  // conformIdTokenClaims off they are in the ID token as well as at userinfo, as many
  // providers (Keycloak, Entra ID) do for a code flow.
  claims: {
    acr: null,
    amr: null,
    auth_time: null,
    sid: null,
    iss: null,
    // oidc-provider puts a claim in a token only when a scope (or the claims
    // parameter) asks for it; the authentication's acr/amr/auth_time ride on openid.
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'given_name', 'family_name', 'groups'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: {
      enabled: true,
      userCodeInputSource: plainPage('enter the user code through POST /_test/device/approve'),
      userCodeConfirmSource: plainPage('confirm the user code through POST /_test/device/approve'),
      successSource: plainPage('device approved'),
    },
    rpInitiatedLogout: {
      enabled: true,
      // The confirmation form submits itself, as oidc-provider's own page does.
      logoutSource: async (ctx, form) => {
        ctx.type = 'html';
        ctx.body = `<!DOCTYPE html><title>Logout</title><body>${form}<script>document.forms[0].submit()</script></body>`;
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.type = 'text/plain';
        ctx.body = 'signed out';
      },
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = 'text/plain';
    ctx.body = `${out.error}: ${out.error_description ?? ''}`;
  },
  clientBasedCORS: () => true,
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 600,
    ClientCredentials: 600,
    DeviceCode: 600,
    Grant: 3600,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 86400,
    Session: 3600,
  },
});

provider.on('server_error', (_ctx, error) => process.stderr.write(`oidc-provider server_error: ${error.stack}\n`));

// Rewrites the ID token of the next successful token response when a tamper is set.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token && pendingTamper) {
    const mode = pendingTamper;
    pendingTamper = null;
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token, mode) };
  }
});

const providerCallback = provider.callback();

server.on('request', (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  let handled;
  if (path.startsWith('/_test/')) {
    handled = control(req, res, path);
  } else if (path.startsWith('/interaction/')) {
    handled = interaction(req, res);
  } else {
    providerCallback(req, res);
    return;
  }
  handled.catch((error) => {
    process.stderr.write(`${req.method} ${path}: ${error.stack}\n`);
    if (!res.headersSent) {
      send(res, 500, { detail: String(error.message ?? error) });
    } else {
      res.end();
    }
  });
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);

async function newSigningKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = { ...(await jose.exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' };
  return { jwk, privateKey };
}

async function findAccount(_ctx, sub, token) {
  const claims = (token?.grantId && claimsByGrant.get(token.grantId)) ?? claimsBySub.get(sub) ?? {};
  return {
    accountId: sub,
    // `acr`/`amr` belong to the authentication, not the account: they travel in the
    // login result (see interaction()) and are left out here.
    claims: async () => {
      const { acr: _acr, amr: _amr, ...rest } = claims;
      return { ...rest, sub };
    },
  };
}

// Completes every login and consent prompt at once with the next queued login.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent' && details.session?.accountId) {
    // Already logged in at the provider (a kept cookie): consent alone, no login used.
    const sub = details.session.accountId;
    const grantId = await saveGrant(sub, details.params.client_id, details.params.scope, details.params.claims);
    if (claimsBySub.has(sub)) claimsByGrant.set(grantId, claimsBySub.get(sub));
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  const login = pendingLogins.shift();
  if (!login) {
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('no test login set');
    return;
  }
  const { sub, claims } = login;
  const grantId = await saveGrant(sub, details.params.client_id, details.params.scope, details.params.claims);
  claimsByGrant.set(grantId, claims);
  claimsBySub.set(sub, claims);
  const result = {
    login: { accountId: sub, ...authentication(claims) },
    consent: { grantId },
  };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

// The `acr`/`amr` of a login taken from the test's claims.
function authentication(claims) {
  const out = {};
  if (claims.acr !== undefined) out.acr = String(claims.acr);
  if (claims.amr !== undefined) out.amr = Array.isArray(claims.amr) ? claims.amr.map(String) : [String(claims.amr)];
  return out;
}

// A grant of everything asked for: consent is never shown.
async function saveGrant(sub, clientId, scope, claimsParameter) {
  const grant = new provider.Grant({ accountId: sub, clientId });
  grant.addOIDCScope(scope ?? 'openid');
  if (claimsParameter) {
    const requested = typeof claimsParameter === 'string' ? JSON.parse(claimsParameter) : claimsParameter;
    const names = new Set([...Object.keys(requested.id_token ?? {}), ...Object.keys(requested.userinfo ?? {})]);
    if (names.size) grant.addOIDCClaims([...names]);
  }
  return grant.save();
}

async function control(req, res, path) {
  if (req.method !== 'POST') {
    send(res, 405, { detail: 'POST only' });
    return;
  }
  const body = await readJson(req);
  if (body === undefined) {
    send(res, 400, { detail: 'body is not JSON' });
    return;
  }
  switch (path) {
    case '/_test/next-login': {
      if (typeof body.sub !== 'string' || !body.sub) {
        send(res, 400, { detail: 'sub is required' });
        return;
      }
      pendingLogins.push({ sub: body.sub, claims: body.claims ?? {} });
      send(res, 200, { queued: pendingLogins.length });
      return;
    }
    case '/_test/tamper': {
      if (body.mode === 'none') {
        pendingTamper = null;
      } else if (TAMPER_MODES.has(body.mode)) {
        pendingTamper = body.mode;
      } else {
        send(res, 400, { detail: `unknown mode ${JSON.stringify(body.mode)}` });
        return;
      }
      send(res, 200, { mode: body.mode });
      return;
    }
    case '/_test/device/approve': {
      const outcome = await approveDevice(body);
      send(res, outcome.status, outcome.body);
      return;
    }
    default:
      send(res, 404, { detail: 'unknown test endpoint' });
  }
}

// Binds a pending device code to an account as oidc-provider's own device pages do
// after a login (lib/actions/authorization/device.js in the package), without them.
async function approveDevice({ user_code: userCode, sub, claims = {} }) {
  if (typeof userCode !== 'string' || typeof sub !== 'string' || !sub) {
    return { status: 400, body: { detail: 'user_code and sub are required' } };
  }
  const normalized = userCode.toUpperCase().replace(/\W/g, '');
  const code = await provider.DeviceCode.findByUserCode(normalized);
  if (!code || code.accountId || code.error) {
    return { status: 404, body: { detail: 'no pending device code with that user code' } };
  }
  const scope = code.params.scope ?? 'openid';
  const grantId = await saveGrant(sub, code.clientId, scope, code.params.claims);
  claimsByGrant.set(grantId, claims);
  claimsBySub.set(sub, claims);
  Object.assign(code, {
    accountId: sub,
    authTime: Math.floor(Date.now() / 1000),
    grantId,
    scope,
    ...authentication(claims),
  });
  await code.save();
  return { status: 200, body: { approved: true } };
}

async function tamper(idToken, mode) {
  const payload = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = signingKey.privateKey;
  switch (mode) {
    case 'wrong_audience':
      payload.aud = 'someone-else';
      break;
    case 'expired':
      payload.iat = now - 7200;
      payload.exp = now - 3600;
      break;
    case 'wrong_nonce':
      payload.nonce = `not-${payload.nonce ?? 'a-nonce'}`;
      break;
    case 'wrong_issuer':
      payload.iss = `${issuer}/elsewhere`;
      break;
    case 'other_key':
      // Same kid, so a verifier picks the provider's published key and must fail.
      key = (await newSigningKey()).privateKey;
      break;
    case 'alg_none': {
      const encode = (part) => Buffer.from(JSON.stringify(part)).toString('base64url');
      return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(payload)}.`;
    }
    default:
      throw new Error(`unknown tamper mode ${mode}`);
  }
  return new jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: KID }).sign(key);
}

function plainPage(text) {
  return async (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = text;
  };
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
