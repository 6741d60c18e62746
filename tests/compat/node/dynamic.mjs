// The official Infisical Node SDK (@infisical/sdk), unmodified: dynamic secrets and leases against
// Strongroom's /compat/infisical/. Driven step by step by tests/compat/test_dynamic_sdks.py (STEP
// in the environment), so the test can log in to PostgreSQL as the leased user between steps.
// The leased credentials go to CRED_FILE (mode 0600), never to stdout; stdout is one JSON line.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { InfisicalSDK } from "@infisical/sdk";

const { SITE_URL, CLIENT_ID, CLIENT_SECRET, STEP, LEASE_ID, CRED_FILE, INPUTS } = process.env;
const client = new InfisicalSDK({ siteUrl: SITE_URL });
await client.auth().universalAuth.login({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
const place = { projectSlug: "acme", environmentSlug: "dev", path: "/" };
const leases = client.dynamicSecrets().leases;
let seen = {};

if (STEP === "define") {
  const secret = await client.dynamicSecrets().create({
    ...place,
    name: "pg-node",
    provider: { type: "sql-database", inputs: JSON.parse(INPUTS) },
    defaultTTL: "1h",
    maxTTL: "2h",
  });
  seen = { id: secret.id, name: secret.name, type: secret.type, defaultTTL: secret.defaultTTL, maxTTL: secret.maxTTL };
} else if (STEP === "lease") {
  const created = await leases.create({ ...place, dynamicSecretName: "pg-node", ttl: "1h" });
  assert.deepEqual(Object.keys(created).sort(), ["data", "dynamicSecret", "lease"]);
  writeFileSync(CRED_FILE, JSON.stringify(created.data), { mode: 0o600 });
  seen = { lease: created.lease, dynamicSecret: created.dynamicSecret.name, dataKeys: Object.keys(created.data).sort() };
} else if (STEP === "renew") {
  const renewed = await leases.renew(LEASE_ID, { ...place, ttl: "30m" });
  seen = { lease: renewed.lease };
  try {
    await leases.renew(LEASE_ID, { ...place, ttl: "2h" });
    seen.overMax = "accepted";
  } catch (err) {
    seen.overMax = { message: err.message };
  }
} else if (STEP === "revoke") {
  const revoked = await leases.delete(LEASE_ID, { ...place, isForced: false });
  seen = { lease: revoked.lease };
} else if (STEP === "delete") {
  const deleted = await client.dynamicSecrets().delete("pg-node", { ...place, isForced: false });
  seen = { id: deleted.id, name: deleted.name };
} else {
  throw new Error(`unknown STEP ${STEP}`);
}
console.log(JSON.stringify(seen));
