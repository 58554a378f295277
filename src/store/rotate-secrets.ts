import type { SecretBox } from '../signing/secret-box.ts';
import type { Db } from './database.ts';

/**
 * Re-encrypts every webhook secret still under an old SECRETS_KEY with the current one.
 * Rotation: set the new SECRETS_KEY, move the old one to SECRETS_KEY_PREVIOUS, restart,
 * run `rotate-secrets-key`, then drop the old key. Safe to run again; page by page.
 */
export async function rotateSecretsKey(db: Db, box: SecretBox): Promise<{ reencrypted: number; checked: number }> {
  let after = '';
  let reencrypted = 0;
  let checked = 0;
  for (;;) {
    const rows = await db.selectFrom('webhooks').select(['id', 'secret_enc']).where('id', '>', after).orderBy('id').limit(500).execute();
    if (rows.length === 0) break;
    for (const row of rows) {
      checked++;
      if (!box.needsReencrypt(row.secret_enc)) continue;
      const fresh = box.encrypt(box.decrypt(row.secret_enc));
      // Only if nobody regenerated the secret meanwhile.
      await db.updateTable('webhooks').set({ secret_enc: fresh }).where('id', '=', row.id).where('secret_enc', '=', row.secret_enc).execute();
      reencrypted++;
    }
    after = rows[rows.length - 1].id;
  }
  return { reencrypted, checked };
}
