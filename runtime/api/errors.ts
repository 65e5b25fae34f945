/**
 * Every error the API answers with has one shape, `{ error, field?, expected?, requestId }`: what went
 * wrong, where (`query.limit`, `params.entity_id`, `body.url`) and what would have been accepted. Elysia's
 * validation errors are reshaped into it; bad input is always a 4xx, never a 500, and bodies never echo
 * credentials.
 */
import { Elysia, t } from "elysia";
import { errorMessage } from "../kernel/log.ts";
import { requestContext } from "./security/service.ts";

export const ErrorBody = t.Object({
  error: t.String({ description: "what went wrong" }),
  field: t.Optional(t.String({ description: "where: the request part and field, e.g. query.limit" })),
  expected: t.Optional(t.String({ description: "what would have been accepted" })),
  requestId: t.String({ description: "the X-Request-ID of the request; quote it when reporting a problem" }),
});
export type ErrorBody = typeof ErrorBody.static;

/** A request problem found after schema validation (e.g. an unknown cursor); becomes a 4xx. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly detail: { field?: string; expected?: string } = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A field's custom validation error, attached to its schema by fields.ts. */
export interface FieldError {
  field: string;
  expected: string;
  /** The message, when it can say more than "invalid <field>" (e.g. the value given). */
  error?: string;
}

const isFieldError = (e: unknown): e is FieldError =>
  !!e && typeof e === "object" && typeof (e as FieldError).field === "string";

/** A readable "expected" for a schema that has no custom error (bodies, nested fields). */
export function describeSchema(schema: Record<string, unknown> | undefined): string {
  if (!schema) return "a value matching the schema";
  if (typeof schema.description === "string" && schema.description) return schema.description;
  if (Array.isArray(schema.anyOf)) {
    const consts = (schema.anyOf as Record<string, unknown>[])
      .map((s) => s.const)
      .filter((c) => c !== undefined);
    if (consts.length) return `one of ${consts.map((c) => JSON.stringify(c)).join(", ")}`;
  }
  const range =
    schema.minimum !== undefined && schema.maximum !== undefined
      ? ` between ${schema.minimum} and ${schema.maximum}`
      : schema.minimum !== undefined
        ? ` of at least ${schema.minimum}`
        : schema.maximum !== undefined
          ? ` of at most ${schema.maximum}`
          : "";
  switch (schema.type) {
    case "integer":
      return `a whole number${range}`;
    case "number":
      return `a number${range}`;
    case "boolean":
      return "true or false";
    case "array":
      return "a list";
    case "object":
      return "an object";
    case "string":
      if (schema.pattern) return `text matching ${schema.pattern}`;
      if (schema.maxLength !== undefined) return `text of at most ${schema.maxLength} characters`;
      return "text";
    default:
      return "a value matching the schema";
  }
}

/** Errors as `{ error, field, expected, requestId }`; scoped globally so every route gets it. */
export const errors = new Elysia({ name: "homeiq/errors" })
  .error({ ApiError })
  .onError({ as: "global" }, ({ code, error, set, request, path }) => {
    const ctx = requestContext(request);
    const requestId = ctx?.id ?? "";
    const reply = (status: number, body: Omit<ErrorBody, "requestId">) => {
      set.status = status;
      set.headers["content-type"] = "application/json";
      if (requestId) set.headers["x-request-id"] = requestId;
      return { ...body, requestId };
    };
    switch (code) {
      case "VALIDATION": {
        if (error.type === "response") {
          ctx?.log.error("response did not match its schema", { path, error: error.message.slice(0, 500) });
          return reply(500, { error: "internal error: the response did not match its schema" });
        }
        const first = error.all[0] as { path?: string; schema?: Record<string, unknown>; message?: string };
        const custom = error.customError;
        if (isFieldError(custom))
          return reply(400, {
            error: custom.error ?? `invalid ${custom.field}`,
            field: custom.field,
            expected: custom.expected,
          });
        const where = `${error.type}${(first?.path ?? "").replace(/\//g, ".")}`;
        return reply(400, {
          error: `invalid ${where}${first?.message ? `: ${first.message}` : ""}`,
          field: where,
          expected: describeSchema(first?.schema),
        });
      }
      case "ApiError":
        return reply(error.status, { error: error.message, ...error.detail });
      case "PARSE":
        return reply(400, {
          error: "the request body could not be parsed",
          field: "body",
          expected: "a JSON body with content-type application/json",
        });
      case "NOT_FOUND":
        return reply(404, {
          error: `no route ${request.method} ${path}`,
          expected: "a path listed in the OpenAPI document at /openapi/json",
        });
      case "INVALID_COOKIE_SIGNATURE":
      case "INVALID_FILE_TYPE":
        return reply(400, { error: errorMessage(error) });
      default: {
        const status =
          typeof (error as { status?: unknown }).status === "number"
            ? (error as { status: number }).status
            : 500;
        if (status < 500) return reply(status, { error: errorMessage(error) });
        ctx?.log.error("request failed", { path, error: errorMessage(error) });
        return reply(500, { error: "internal error; the server log has the details under this request id" });
      }
    }
  });
