/**
 * The hub's logger (pino). Secrets are redacted wherever they might appear; health
 * values are never logged at info level (the ingest logs ids and codes only).
 */
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'anxin-hub' },
    redact: {
      paths: ['password', '*.password', 'secret', '*.secret', 'token', '*.token', 'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      censor: '[redacted]',
    },
  });
}
