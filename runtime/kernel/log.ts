/**
 * Structured JSON log lines: one object per line with time, level, actor, msg, and the correlation id
 * (`cid`) of the request or session the line belongs to. Secrets never reach a line: fields whose name
 * looks like a credential are replaced before writing.
 */

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SECRET_KEY = /token|secret|password|authorization|api[_-]?key|credential/i;

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry these fields (e.g. `{ cid: requestId }`). */
  child(fields: LogFields): Logger;
}

/** Where lines go; tests pass an array-backed sink. */
export type LogSink = (line: string) => void;

const stdoutSink: LogSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/** Replaces credential-looking values, recursively, so a stray config object cannot leak a token. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_KEY.test(k) && v !== undefined && v !== null && v !== "" ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

export function createLogger(opts: {
  actor: string;
  level: LogLevel;
  sink?: LogSink;
  fields?: LogFields;
  now?: () => number;
}): Logger {
  const sink = opts.sink ?? stdoutSink;
  const min = RANK[opts.level];
  const now = opts.now ?? Date.now;
  const base = opts.fields ?? {};
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < min) return;
    const line = {
      time: new Date(now()).toISOString(),
      level,
      actor: opts.actor,
      msg,
      ...(redact({ ...base, ...fields }) as LogFields),
    };
    sink(JSON.stringify(line));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

/** Renders an unknown thrown value as a short message for logs and status. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
