import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { temporalConnectionOptions } from '../../workers/connectionOptions.ts';

test('a plain address gives a plain connection without TLS', () => {
  assert.deepEqual(temporalConnectionOptions('127.0.0.1:7233', {}), { address: '127.0.0.1:7233', apiKey: undefined, tls: undefined });
});

test('an API key (Temporal Cloud) turns TLS on', () => {
  const o = temporalConnectionOptions('ns.acct.tmprl.cloud:7233', { TEMPORAL_API_KEY: 'k' });
  assert.equal(o.apiKey, 'k');
  assert.ok(o.tls);
});

test('mTLS reads the client certificate pair from the paths given', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entroscope-tls-'));
  writeFileSync(join(dir, 'c.pem'), 'CERT');
  writeFileSync(join(dir, 'k.pem'), 'KEY');
  const o = temporalConnectionOptions('x:7233', { TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'c.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'k.pem') });
  assert.equal(o.tls?.clientCertPair?.crt.toString(), 'CERT');
  assert.equal(o.tls?.clientCertPair?.key.toString(), 'KEY');
});

test('half a certificate pair or an unreadable path is a clear error naming the variable', () => {
  assert.throws(() => temporalConnectionOptions('x:7233', { TEMPORAL_TLS_CLIENT_CERT_PATH: '/etc/hostname' }), /set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/);
  assert.throws(() => temporalConnectionOptions('x:7233', { TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca.pem' }), /TEMPORAL_TLS_SERVER_CA_CERT_PATH=\/nonexistent\/ca.pem/);
});
