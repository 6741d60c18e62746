// The official Infisical Node SDK (@infisical/sdk), unmodified, against Strongroom's
// /compat/infisical/. Driven by tests/compat/test_node_sdk.py, which passes the live server's
// site URL and a machine identity's universal-auth credentials in the environment.
// Prints one JSON line of observations; any failed assertion exits non-zero.
import assert from "node:assert/strict";
import { InfisicalSDK } from "@infisical/sdk";

const { SITE_URL, CLIENT_ID, CLIENT_SECRET, PROJECT_ID } = process.env;
const client = new InfisicalSDK({ siteUrl: SITE_URL });
const seen = {};

await client.auth().universalAuth.login({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });

// list (references expanded on the server) and list with imports (merged by the SDK)
const listed = await client.secrets().listSecrets({ projectId: PROJECT_ID, environment: "dev", secretPath: "/" });
seen.list = Object.fromEntries(listed.secrets.map((s) => [s.secretKey, s.secretValue]));
assert.deepEqual(seen.list, { HOST: "dev.internal", URL: "https://dev.internal/x" });
assert.deepEqual(listed.imports, []);
const withImports = await client.secrets().listSecretsWithImports({
  projectId: PROJECT_ID,
  environment: "dev",
  secretPath: "/",
});
seen.withImports = withImports.map((s) => s.secretKey).sort();
assert.deepEqual(seen.withImports, ["COMMON", "HOST", "URL"]);

// get, create, update, delete
const one = await client.secrets().getSecret({
  projectId: PROJECT_ID,
  environment: "dev",
  secretName: "URL",
  secretPath: "/",
});
assert.equal(one.secretValue, "https://dev.internal/x");
const imported = await client.secrets().getSecret({
  projectId: PROJECT_ID,
  environment: "dev",
  secretName: "COMMON",
  secretPath: "/",
  includeImports: true,
});
assert.equal(imported.secretValue, "c0mmon");
const created = await client.secrets().createSecret("NODE_KEY", {
  projectId: PROJECT_ID,
  environment: "dev",
  secretPath: "/",
  secretValue: "n1",
  secretComment: "from node",
});
assert.equal(created.secret.secretKey, "NODE_KEY");
assert.equal(created.secret.version, 1);
const updated = await client.secrets().updateSecret("NODE_KEY", {
  projectId: PROJECT_ID,
  environment: "dev",
  secretPath: "/",
  secretValue: "n2",
});
assert.equal(updated.secret.version, 2);
const reread = await client.secrets().getSecret({
  projectId: PROJECT_ID,
  environment: "dev",
  secretName: "NODE_KEY",
  secretPath: "/",
});
assert.equal(reread.secretValue, "n2");
const deleted = await client.secrets().deleteSecret("NODE_KEY", {
  projectId: PROJECT_ID,
  environment: "dev",
  secretPath: "/",
});
assert.equal(deleted.secret.secretKey, "NODE_KEY");
await assert.rejects(
  client.secrets().getSecret({ projectId: PROJECT_ID, environment: "dev", secretName: "NODE_KEY", secretPath: "/" }),
  (err) => {
    seen.missing = String(err.message || err);
    return true;
  },
);

// folders (v1 routes)
const folder = await client.folders().create({ name: "node-made", path: "/", projectId: PROJECT_ID, environment: "dev" });
assert.equal(folder.name, "node-made");
const folders = await client.folders().listFolders({ projectId: PROJECT_ID, environment: "dev", path: "/" });
seen.folders = folders.map((f) => f.name).sort();
assert.deepEqual(seen.folders, ["common", "node-made"]);

// token renew: the SDK swaps in whatever the server answers, and keeps working
await client.auth().universalAuth.renew();
const afterRenew = await client.secrets().listSecrets({ projectId: PROJECT_ID, environment: "dev", secretPath: "/" });
assert.equal(afterRenew.secrets.length, 2);

// a fresh instance logging in again while the old token is still attached elsewhere
const second = new InfisicalSDK({ siteUrl: SITE_URL });
await second.auth().universalAuth.login({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
assert.equal((await second.folders().listFolders({ projectId: PROJECT_ID, environment: "dev", path: "/" })).length, 2);

console.log(JSON.stringify({ ok: true, ...seen }));
