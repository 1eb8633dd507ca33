// A real OpenID provider (npm `oidc-provider`, pinned in tests/oidc/setup.sh) for the sign-in
// test. Run by the test as `node provider.mjs` with:
//   OIDC_PORT           loopback port to listen on (the issuer is http://127.0.0.1:OIDC_PORT)
//   OIDC_CLIENT_ID      the one client, confidential (client_secret_basic), code flow + PKCE S256
//   OIDC_CLIENT_SECRET
//   OIDC_REDIRECT_URI   e.g. http://127.0.0.1:PORT/auth/callback
// Users, each with a `groups` claim (released with the `profile` scope, in the ID token):
//   admin (groups ["iam-team"]), auditor (["audit"]), owner ([]).
// Sign-in is automatic: GET /interaction/<uid>?user=<name> signs that user in; consent is implied
// for the one client. Without `user`, the page lists the links. Prints `ready <issuer>` on stdout.
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = {
  admin: { email: 'admin@acme.example', name: 'Ada Admin', groups: ['iam-team', 'staff'] },
  auditor: { email: 'auditor@acme.example', name: 'Aud Itor', groups: ['audit'] },
  owner: { email: 'owner@acme.example', name: 'Owen Owner', groups: [] },
  // Claims the owner's address, which this provider never verified (a user-set email).
  mallory: { email: 'owner@acme.example', name: 'Mallory', groups: [], verified: false },
  // Another account handed the owner's (recycled) address, verified this time.
  newhire: { email: 'owner@acme.example', name: 'New Hire', groups: [] },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: [process.env.OIDC_REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  // Scope claims go into the ID token too, not only to userinfo.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['roster-test-cookie-key'] },
  findAccount: async (_ctx, id) => {
    const a = accounts[id];
    if (!a) return undefined;
    return {
      accountId: id,
      claims: async () => ({ sub: id, email: a.email, email_verified: a.verified !== false, name: a.name, groups: a.groups }),
    };
  },
  // First-party client: every requested scope and claim is granted without a consent screen.
  loadExistingGrant: async (ctx) => {
    const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) {
      const g = await ctx.oidc.provider.Grant.find(existing);
      if (g) return g;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    grant.addOIDCClaims(['sub', 'email', 'email_verified', 'name', 'groups']);
    await grant.save();
    ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId, grant.jti);
    return grant;
  },
});

const handler = provider.callback();
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  const m = url.pathname.match(/^\/interaction\/([^/]+)$/);
  if (!m) return handler(req, res);
  try {
    await provider.interactionDetails(req, res);
    const user = url.searchParams.get('user');
    if (!user) {
      res.setHeader('content-type', 'text/html');
      res.end(Object.keys(accounts).map((u) => `<a href="?user=${u}">${u}</a>`).join(' '));
      return;
    }
    if (!accounts[user]) {
      res.statusCode = 400;
      res.end('unknown user');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: user } }, { mergeWithLastSubmission: false });
  } catch (e) {
    res.statusCode = 400;
    res.end(`interaction failed: ${e.message}`);
  }
});
server.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
