/**
 * SCRAM credentials and delegation tokens. Salts, salted passwords and token HMACs are secrets: never read into an
 * operation (Renew/Expire name a token by a fingerprint of its HMAC).
 */
import { API_KEY } from '../../../protocol/registry.js';
import { defineApi } from './api.js';
import { enumName, hmacFingerprint, int64, pairByKey, SCRAM_MECHANISM, type Details } from './shared.js';

export const alterUserScramCredentials = defineApi({
  apiKey: API_KEY.AlterUserScramCredentials,
  category: 'management',
  operations(b, req, res) {
    // Per user, in request order: deletions (mechanism) and upsertions (mechanism, iterations).
    const changes = new Map<string, Details[]>();
    const changesOf = (user: string): Details[] => {
      let c = changes.get(user);
      if (!c) { c = []; changes.set(user, c); }
      return c;
    };
    for (const d of req.Deletions) changesOf(d.Name).push({ mechanism: enumName(SCRAM_MECHANISM, d.Mechanism), deleted: true });
    for (const u of req.Upsertions) changesOf(u.Name).push({ mechanism: enumName(SCRAM_MECHANISM, u.Mechanism), iterations: u.Iterations });
    for (const { req: user, res: r } of pairByKey([...changes.keys()], (u) => u, res?.Results, (r) => r.User)) {
      const name = user ?? r!.User;
      b.add({ type: 'User', name }, 'Alter', { code: r?.ErrorCode, message: r?.ErrorMessage }, user !== undefined ? { changes: changes.get(user) } : undefined);
    }
  },
  refusal: (req) => ({ Results: [...req.Deletions, ...req.Upsertions].map((u) => ({ User: u.Name })) }),
});

const principalString = (type: string | null | undefined, name: string | null | undefined): string | undefined =>
  type && name ? `${type}:${name}` : undefined;

export const createDelegationToken = defineApi({
  apiKey: API_KEY.CreateDelegationToken,
  category: 'management',
  operations(b, req, res) {
    const ok = res !== undefined && res.ErrorCode === 0;
    const tokenId = ok && res.TokenId ? res.TokenId : undefined;
    const details = {
      // The owner the broker recorded, else the one requested (v3+); absent = the requester owns the token.
      owner: (ok ? principalString(res.PrincipalType, res.PrincipalName) : undefined)
        ?? principalString(req.OwnerPrincipalType, req.OwnerPrincipalName),
      renewers: req.Renewers.map((r) => `${r.PrincipalType}:${r.PrincipalName}`),
      maxLifetimeMs: int64(req.MaxLifetimeMs),
    };
    // The Hmac of the response is the token's secret: never read.
    b.add({ type: 'DelegationToken', name: tokenId ?? '(not issued)' }, 'Create', { code: res?.ErrorCode }, details);
  },
  refusal: () => ({}),
});

export const renewDelegationToken = defineApi({
  apiKey: API_KEY.RenewDelegationToken,
  category: 'management',
  operations(b, req, res) {
    const expiry = res && res.ErrorCode === 0 ? int64(res.ExpiryTimestampMs) : undefined;
    // Renew extends the token's life: Alter.
    b.add({ type: 'DelegationToken', name: hmacFingerprint(req.Hmac) }, 'Alter', { code: res?.ErrorCode },
      { renewPeriodMs: int64(req.RenewPeriodMs), expiryTimestampMs: expiry });
  },
  refusal: () => ({}),
});

export const expireDelegationToken = defineApi({
  apiKey: API_KEY.ExpireDelegationToken,
  category: 'management',
  operations(b, req, res) {
    const expiry = res && res.ErrorCode === 0 ? int64(res.ExpiryTimestampMs) : undefined;
    // Expire ends the token, at once (negative period, Kafka's default) or at the new expiry time, after which the
    // broker removes it: Delete.
    b.add({ type: 'DelegationToken', name: hmacFingerprint(req.Hmac) }, 'Delete', { code: res?.ErrorCode },
      { expiryTimePeriodMs: int64(req.ExpiryTimePeriodMs), expiryTimestampMs: expiry });
  },
  refusal: () => ({}),
});
