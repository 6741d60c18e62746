// The Node.js example from Infisical's Azure DevOps guide ("Fetching a Secret Using the Node.js
// SDK"), as written there, with only the site URL pointed at Strongroom and createConnection
// standing in for the application's database driver (it reports the value's length, never the value).
const { InfisicalSDK } = require('@infisical/sdk');

async function createConnection(databaseUrl) {
  return { connected: databaseUrl.startsWith('postgres://'), length: databaseUrl.length };
}

async function connectToDatabase() {
  const client = new InfisicalSDK({
    siteUrl: process.env.SITE_URL, // or your self-hosted URL
  });
  await client.auth().universalAuth.login({
    clientId: process.env.INFISICAL_CLIENT_ID,
    clientSecret: process.env.INFISICAL_CLIENT_SECRET,
  });
  const secret = await client.secrets().getSecret({
    environment: 'prod',
    projectId: process.env.INFISICAL_PROJECT_ID,
    secretName: 'DATABASE_URL',
    secretPath: '/backend/api',
  });
  // Pass the value directly to the function that needs it.
  // Never log or print secret values.
  const db = await createConnection(secret.secretValue);
  return db;
}

connectToDatabase().then(
  (db) => console.log(JSON.stringify(db)),
  (err) => {
    console.error(String(err && err.message ? err.message : err));
    process.exit(1);
  },
);
