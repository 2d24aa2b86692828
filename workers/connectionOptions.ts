// How to reach a Temporal server, from the standard environment variables of Temporal's own tools:
//   TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY (Temporal Cloud),
//   TEMPORAL_TLS_CLIENT_CERT_PATH + TEMPORAL_TLS_CLIENT_KEY_PATH (mTLS), TEMPORAL_TLS=true (server TLS only),
//   TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME.
// The same options serve the client (`Connection`) and workers (`NativeConnection`).
import { readFileSync } from 'node:fs';

export interface TemporalConnectionOptions {
  address: string;
  apiKey?: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
}

export function temporalConnectionOptions(address: string, env: NodeJS.ProcessEnv = process.env): TemporalConnectionOptions {
  const read = (name: string): Buffer | undefined => {
    const path = env[name];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${name}=${path}: ${(err as Error).message}`);
    }
  };
  const crt = read('TEMPORAL_TLS_CLIENT_CERT_PATH');
  const key = read('TEMPORAL_TLS_CLIENT_KEY_PATH');
  if (Boolean(crt) !== Boolean(key)) {
    throw new Error('set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or neither');
  }
  const ca = read('TEMPORAL_TLS_SERVER_CA_CERT_PATH');
  const apiKey = env.TEMPORAL_API_KEY || undefined;
  const wantTls = Boolean(crt || ca || apiKey || env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS_SERVER_NAME);
  return {
    address,
    apiKey,
    tls: wantTls
      ? {
          serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME || undefined,
          serverRootCACertificate: ca,
          clientCertPair: crt && key ? { crt, key } : undefined,
        }
      : undefined,
  };
}
