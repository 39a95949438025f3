/**
 * The gateway's logger (pino, JSON lines on stdout). The secret is redacted
 * wherever it might appear; health values are never logged at info level
 * (refusals log codes, fields and reading ids).
 */
import { pino, type Logger } from 'pino';

export function createGatewayLogger(level: string, homeId?: string): Logger {
  return pino({
    level,
    base: { service: 'anxin-gateway', ...(homeId !== undefined && { homeId }) },
    redact: { paths: ['password', '*.password', 'secret', '*.secret'], censor: '[redacted]' },
  });
}
