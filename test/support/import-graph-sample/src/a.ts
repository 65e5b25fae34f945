/** Sample for test/layers.test.ts: one import of each kind, and one in a comment that must not count. */
import { b } from "./b.ts";
import type { C } from "./c.ts";

export { d } from "./d.ts";
// import { nope } from "./nope.ts";

export const a = async (): Promise<C> => {
  await import("./e.ts");
  return b;
};
