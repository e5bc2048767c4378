import { pino, type Logger } from 'pino';
import { activeTraceIds } from './tracing.js';

export type { Logger };

/**
 * Structured JSON logs on stdout. Every line carries the component; callers add the object's
 * namespace/name and the action as child bindings, and a line logged inside a span carries its
 * trace_id and span_id.
 */
export function createLogger(component: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => activeTraceIds() ?? {},
  });
}
