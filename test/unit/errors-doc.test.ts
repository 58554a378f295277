import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/domain/errors.ts';

// The catalogue and its documentation cannot drift apart: a code added to one and not the
// other fails here (the fastify errors.test.js habit).
describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Map(
    [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])] as const),
  );

  it('documents every error code with its status', () => {
    for (const [code, status] of Object.entries(ERROR_CODES)) expect(documented.get(code), code).toBe(status);
  });

  it('documents no code the service does not have', () => {
    for (const code of documented.keys()) expect(Object.keys(ERROR_CODES)).toContain(code);
  });
});
