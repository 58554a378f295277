import { v7 } from 'uuid';

/**
 * Time-ordered UUIDs (v7): ids created later sort later, which the delivery queue relies on
 * for "domain-scoped before customer-level" and the API for newest-first pages. The uuid
 * library keeps them monotonic within one millisecond.
 */
export const newId = (): string => v7();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID.test(value);
