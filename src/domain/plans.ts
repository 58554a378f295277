/** Webhook endpoints allowed per plan (product document, "Tier Limits"). */
export const PLAN_LIMITS = { starter: 1, professional: 3, business: 10 } as const;
export const PLANS = ['starter', 'professional', 'business', 'custom'] as const;
export type Plan = (typeof PLANS)[number];
