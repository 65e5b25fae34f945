/**
 * Message validation at actor boundaries. Schemas are TypeBox (the same library Elysia uses for HTTP
 * bodies), so one schema can serve both the API and the worker boundary.
 *
 * An actor declares its inbound messages as a record `type -> schema`; each schema must have a literal
 * `type` property equal to its key. The checker dispatches on `type` so errors point at the real field.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** The union of the messages a schema record describes. */
export type MessageOf<R extends Record<string, TSchema>> = { [K in keyof R]: Static<R[K]> }[keyof R];

export type MessageCheck<T> = (raw: unknown) => Checked<T>;

/** A compiled checker for an actor's inbound messages; errors name the actor, the message type and the field. */
export function messageChecker<R extends Record<string, TSchema>>(
  actor: string,
  schemas: R,
): MessageCheck<MessageOf<R>> {
  const compiled = new Map<string, TypeCheck<TSchema>>();
  for (const [type, schema] of Object.entries(schemas)) compiled.set(type, TypeCompiler.Compile(schema));
  const known = [...compiled.keys()].join(", ");
  return (raw) => {
    const type =
      raw !== null && typeof raw === "object" && typeof (raw as { type?: unknown }).type === "string"
        ? (raw as { type: string }).type
        : undefined;
    if (type === undefined) {
      return {
        ok: false,
        error: `actor "${actor}" rejected a message: field /type: expected a string naming one of ${known}, got ${describe(raw)}`,
      };
    }
    const check = compiled.get(type);
    if (!check) {
      return {
        ok: false,
        error: `actor "${actor}" rejected message "${type}": field /type: unknown type; expected one of ${known}`,
      };
    }
    if (check.Check(raw)) return { ok: true, value: raw as MessageOf<R> };
    const first = check.Errors(raw).First();
    const where = first?.path || "/";
    const what = first ? `${first.message}, got ${describe(first.value)}` : "does not match the schema";
    return { ok: false, error: `actor "${actor}" rejected message "${type}": field ${where}: ${what}` };
  };
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text && text.length > 60 ? `${text.slice(0, 57)}...` : String(text);
}
