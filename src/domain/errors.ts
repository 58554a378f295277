/**
 * Every error the APIs answer with has a stable `code` from this catalogue, so clients can
 * branch on it; the message is for people. Internal failures never reach a client: the
 * error handler answers a bare 500 `internal_error` and logs the cause.
 */
export const ERROR_CODES = {
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  webhook_limit_reached: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  rate_limited: 429,
  internal_error: 500,
  not_implemented: 501,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

const PROMOTED_DETAILS = new Set<ErrorCode>(['webhook_limit_reached']);

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown> | unknown[],
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_CODES[code];
  }

  toJSON() {
    // Some codes carry their facts beside the code, as the contract shows them
    // ({"error": {"code": "webhook_limit_reached", "limit": 3, "plan": "professional"}}).
    const promoted = PROMOTED_DETAILS.has(this.code) && this.details && !Array.isArray(this.details) ? this.details : {};
    return { error: { code: this.code, message: this.message, ...promoted, ...(this.details ? { details: this.details } : {}) } };
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
/** `details` of a validation error is always a list of problems, each naming its field. */
export const validationFailed = (message: string, details?: Record<string, unknown> | unknown[]) =>
  new AppError('validation_failed', message, details === undefined || Array.isArray(details) ? details : [{ ...details, message }]);
