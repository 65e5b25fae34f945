/**
 * Schemas for query and path fields that carry their own precise error: which field and what it accepts.
 * Elysia loses the field name when a coerced number is out of range, so each field names itself here
 * (see errors.ts, which turns the attached `error` into `{ field, expected }`).
 */
import { FormatRegistry } from "@sinclair/typebox";
import { t } from "elysia";
import { ApiError, type FieldError } from "./errors.ts";
import { ISO_TIME_MAX_LENGTH, MAX_TIME_MS, parseIsoTime, TIME_FORMS } from "./time-param.ts";

/** Home Assistant entity ids: `<domain>.<object_id>`, lower case, digits and underscores. */
export const ENTITY_ID_PATTERN = "^[a-z0-9_]+\\.[a-z0-9_]+$";
const ENTITY_LIST_PATTERN = "^[a-z0-9_]+\\.[a-z0-9_]+(,[a-z0-9_]+\\.[a-z0-9_]+)*$";
const DOMAIN_LIST_PATTERN = "^[a-z0-9_]+(,[a-z0-9_]+)*$";
/** The string form of a time field: an ISO 8601 date-time with offset naming a real instant. */
const ISO_TIME_FORMAT = "homeiq-iso-time";
FormatRegistry.Set(ISO_TIME_FORMAT, (value) => parseIsoTime(value) !== null);
/** Bound on free-text and list parameters. */
export const TEXT_MAX = 200;
export const LIST_TEXT_MAX = 10_000;

/** Elysia calls this on a failed check; errors.ts reads the returned `{ field, expected }`. */
const err = (field: string, expected: string) => () => ({ field, expected });

/**
 * The error of a time field names what was given: Elysia passes the whole validated part (`found`, e.g.
 * the query object), so the field's own value is looked up by its key.
 */
function timeError(field: string) {
  const key = field.slice(field.indexOf(".") + 1);
  return ({ found }: { found?: unknown }): FieldError => {
    const given = found && typeof found === "object" ? (found as Record<string, unknown>)[key] : found;
    const shown = JSON.stringify(typeof given === "string" ? given.slice(0, 60) : given) ?? "nothing";
    return { field, expected: TIME_FORMS, error: `invalid ${field}: ${shown} is not a time` };
  };
}

export const fields = {
  /** A whole number in [min, max]. */
  int(field: string, min: number, max: number, description: string, def?: number) {
    const expected = `a whole number between ${min} and ${max}`;
    return t.Integer({
      minimum: min,
      maximum: max,
      description: `${description} (${min}-${max})`,
      ...(def !== undefined ? { default: def } : {}),
      error: err(field, expected),
    });
  },
  /**
   * A time: milliseconds since the Unix epoch, or ISO 8601 with an offset as Home Assistant's APIs take
   * it. Handlers turn it into epoch ms with `msTimes` / `timeMs` (time-param.ts); clients may pass either.
   */
  time(field: string, description: string) {
    const error = timeError(field);
    return t.Union(
      [
        t.Integer({ minimum: 0, maximum: MAX_TIME_MS, error }),
        t.String({ format: ISO_TIME_FORMAT, maxLength: ISO_TIME_MAX_LENGTH, error }),
      ],
      { description: `${description}: ${TIME_FORMS}`, error },
    );
  },
  /** One of a fixed set of words. */
  oneOf<const V extends string>(field: string, values: readonly V[], description: string) {
    return t.UnionEnum(values as unknown as [V, ...V[]], {
      description,
      error: err(field, `one of ${values.join(", ")}`),
    });
  },
  /** Free text up to TEXT_MAX characters. */
  text(field: string, description: string) {
    return t.String({
      maxLength: TEXT_MAX,
      description,
      error: err(field, `text of at most ${TEXT_MAX} characters`),
    });
  },
  entityId(field: string, description = "entity id, e.g. sensor.kitchen_temperature") {
    return t.String({
      pattern: ENTITY_ID_PATTERN,
      maxLength: 255,
      description,
      error: err(field, "an entity id like sensor.kitchen_temperature (lower case, digits, underscores)"),
    });
  },
  /** Comma-separated entity ids. */
  entityList(field: string, description: string) {
    return t.String({
      pattern: ENTITY_LIST_PATTERN,
      maxLength: LIST_TEXT_MAX,
      description,
      error: err(field, "comma-separated entity ids like sensor.a,light.b (lower case, digits, underscores)"),
    });
  },
  /** One domain, e.g. light. */
  domain(field: string, description: string) {
    return t.String({
      pattern: "^[a-z0-9_]+$",
      maxLength: 64,
      description,
      error: err(field, "a domain like light or sensor (lower case, digits, underscores)"),
    });
  },
  /** Comma-separated domains. */
  domainList(field: string, description: string) {
    return t.String({
      pattern: DOMAIN_LIST_PATTERN,
      maxLength: TEXT_MAX,
      description,
      error: err(field, "comma-separated domains like sensor,light (lower case, digits, underscores)"),
    });
  },
  /** An opaque pagination cursor from a previous page's `nextCursor`. */
  cursor(field: string) {
    return t.String({
      minLength: 1,
      maxLength: 512,
      description: "nextCursor of the previous page",
      error: err(field, "the nextCursor value of a previous page"),
    });
  },
};

export const splitList = (value: string | undefined): string[] => (value ? value.split(",") : []);

/**
 * A `beforeHandle` that refuses query parameters the route does not know: a misspelt filter
 * (`?entity_ids=`) would otherwise be ignored silently and return everything.
 */
export function knownQuery(schema: { properties: Record<string, unknown> }) {
  const known = Object.keys(schema.properties);
  const allowed = new Set(known);
  return ({ request }: { request: Request }) => {
    const q = request.url.indexOf("?");
    if (q < 0) return;
    for (const key of new URLSearchParams(request.url.slice(q + 1)).keys()) {
      if (!allowed.has(key))
        throw new ApiError(400, `unknown query parameter ${JSON.stringify(key.slice(0, 40))}`, {
          field: `query.${key.slice(0, 40)}`,
          expected: `only ${known.join(", ")}`,
        });
    }
  };
}
