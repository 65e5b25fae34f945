import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { loadConfig } from "../../runtime/config/load.ts";
import { canonicalHost, ipv4Text, parseIPv4Loose } from "./ip.ts";
import { checkRule, RuleError } from "./rules.ts";
import { type Lookup, pinnedUrl, TargetPolicy } from "./targets.ts";

const host = (h: string) => canonicalHost(h);
const refusedAt = (policy: TargetPolicy, url: string): string | null => {
  try {
    checkRule({ url, when: { kind: "state" } }, policy);
    return null;
  } catch (error) {
    if (!(error instanceof RuleError)) throw error;
    return error.message;
  }
};

/** Spellings of one IPv4 address: decimal, hex and octal, in 1 to 4 parts (inet_aton's forms). */
const spellings = (a: number): string[] => {
  const b = [(a >>> 24) & 255, (a >>> 16) & 255, (a >>> 8) & 255, a & 255];
  const low16 = a & 0xffff;
  const low24 = a & 0xffffff;
  return [
    ipv4Text(a),
    String(a),
    `0x${a.toString(16)}`,
    `0${a.toString(8)}`,
    `${b[0]}.${low24}`,
    `${b[0]}.${b[1]}.${low16}`,
    b.map((x) => `0x${x.toString(16)}`).join("."),
    b.map((x) => `0${x.toString(8)}`).join("."),
    `${ipv4Text(a)}.`,
  ];
};

describe("canonical hosts", () => {
  test("every inet_aton spelling of an IPv4 address is the one dotted-decimal address, as URL reads it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (a) => {
        for (const s of spellings(a)) {
          const c = host(s);
          expect(c).toMatchObject({ kind: "ip", family: 4, text: ipv4Text(a) });
          expect(new URL(`http://${s}/`).hostname).toBe(ipv4Text(a));
        }
      }),
    );
  });

  test("IPv6 literals take RFC 5952 form (as URL writes them); IPv4-mapped ones become their IPv4", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (g) => {
        const full = g.map((x) => x.toString(16).padStart(4, "0")).join(":");
        const c = host(`[${full.toUpperCase()}]`);
        const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
        if (mapped) expect(c).toMatchObject({ family: 4, text: ipv4Text(g[6] * 65536 + g[7]) });
        else expect(c?.text).toBe(new URL(`http://[${full}]/`).hostname.slice(1, -1));
      }),
    );
    expect(host("[::ffff:127.0.0.1]")).toMatchObject({ family: 4, text: "127.0.0.1", cls: "loopback" });
    expect(host("::ffff:7f00:1")).toMatchObject({ family: 4, text: "127.0.0.1" });
  });

  test("names are lowercased without their trailing dot; numeric names that are no address are refused", () => {
    expect(host("HA.Local.")).toEqual({ kind: "name", text: "ha.local" });
    expect([host("1.2.3.256"), host("1.2.3.4.5"), host("foo.0x1g"), host("[::g]"), host("")]).toEqual([
      undefined,
      undefined,
      { kind: "name", text: "foo.0x1g" },
      undefined,
      undefined,
    ]);
    expect(parseIPv4Loose("99999999999999999999")).toBeUndefined();
  });

  test("classes: loopback, link-local, private, unspecified, multicast, reserved, public", () => {
    const cls = (h: string) => (host(h) as { cls: string }).cls;
    expect(
      [
        "127.0.0.1",
        "0x7f000001",
        "169.254.169.254",
        "0xa9fea9fe",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "8.8.8.8",
      ].map(cls),
    ).toEqual([
      "loopback",
      "loopback",
      "link-local",
      "link-local",
      "private",
      "private",
      "private",
      "private",
      "unspecified",
      "multicast",
      "reserved",
      "public",
    ]);
    expect(
      [
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "ff02::1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "::7f00:1",
        "2606:4700::1",
      ].map((h) => cls(`[${h}]`)),
    ).toEqual([
      "loopback",
      "unspecified",
      "link-local",
      "private",
      "multicast",
      "link-local",
      "loopback",
      "reserved",
      "public",
    ]);
  });
});

describe("TargetPolicy", () => {
  const haOnly = TargetPolicy.fromConfig(
    loadConfig({ env: { HOMEIQ_HA_URL: "ws://ha.local:8123/api/websocket", HOMEIQ_HA_TOKEN: "t" } }),
  );

  test("by default only Home Assistant's host is a target: loopback, metadata and LAN in every spelling are refused at rule creation", () => {
    expect(refusedAt(haOnly, "http://ha.local:8123/api/webhook/x")).toBeNull();
    expect(refusedAt(haOnly, "https://HA.LOCAL./api/webhook/x")).toBeNull();
    const refused = [
      "http://127.0.0.1:18931/health",
      "http://localhost:22/",
      "http://[::1]:18931/",
      "http://0x7f000001:18931/health",
      "http://2130706433/",
      "http://0177.0.0.1/",
      "http://127.1/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:7f00:1]/",
      "http://169.254.169.254/latest/meta-data/",
      "http://0xa9.0xfe.0xa9.0xfe/",
      "http://[::ffff:169.254.169.254]/",
      "http://[64:ff9b::a9fe:a9fe]/",
      "http://[fe80::1]/",
      "http://10.0.0.1/",
      "http://192.168.1.20:8080/",
      "http://0.0.0.0/",
      "http://example.com/hook",
    ];
    for (const url of refused) expect(refusedAt(haOnly, url)).toContain("is not an allowed webhook target");
    expect(refusedAt(haOnly, "http://[::1]:1/")).toContain('host "::1"');
    expect(refusedAt(haOnly, "http://0x7f000001/")).toContain('host "127.0.0.1"');
  });

  test("an allowed address admits all its spellings and nothing next to it", () => {
    const p = new TargetPolicy(["0x7f000001", "[::ffff:192.168.1.9]"]);
    for (const url of [
      "http://127.0.0.1:1/",
      "http://2130706433/",
      "http://127.1/",
      "http://[::ffff:7f00:1]/",
    ])
      expect(refusedAt(p, url)).toBeNull();
    expect(refusedAt(p, "http://192.168.1.9/")).toBeNull();
    for (const url of ["http://127.0.0.2/", "http://localhost/", "http://192.168.1.10/"])
      expect(refusedAt(p, url)).not.toBeNull();
  });

  test("as an add-on (HA through ws://supervisor/...) Core's host homeassistant is the target, never the Supervisor", () => {
    const addon = TargetPolicy.fromConfig(
      loadConfig({ env: { HOMEIQ_HA_URL: "ws://supervisor/core/websocket", HOMEIQ_HA_TOKEN: "t" } }),
    );
    expect(refusedAt(addon, "http://homeassistant:8123/api/webhook/x")).toBeNull();
    expect(refusedAt(addon, "http://supervisor/core/api/")).toContain("is not an allowed webhook target");
  });

  test("the simulator's 127.0.0.1 is allowed when ha.url is unset and the simulator runs, not otherwise", () => {
    const sim = TargetPolicy.fromConfig(loadConfig({ env: {} }));
    expect(refusedAt(sim, "http://127.0.0.1:4321/hook")).toBeNull();
    const none = TargetPolicy.fromConfig(loadConfig({ env: { HOMEIQ_SIM_ENABLED: "false" } }));
    expect(refusedAt(none, "http://127.0.0.1:4321/hook")).toContain("(none)");
  });

  test("names are resolved at send time and every address checked (DNS rebinding); the checked one is used", async () => {
    const p = new TargetPolicy(["ha.local", "localhost", "10.9.9.9"]);
    let answer: string[] = [];
    const lookups: string[] = [];
    const lookup: Lookup = async (name) => {
      lookups.push(name);
      return answer.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    };
    const resolve = (url: string) => p.resolve(new URL(url), lookup);
    answer = ["192.168.1.5"];
    expect(await resolve("http://ha.local:8123/x")).toEqual({ ok: true, address: "192.168.1.5", family: 4 });
    for (const bad of [
      ["169.254.169.254"],
      ["192.168.1.5", "127.0.0.1"],
      ["::ffff:169.254.169.254"],
      ["0.0.0.0"],
    ]) {
      answer = bad;
      const v = await resolve("http://ha.local:8123/x");
      expect(v.ok).toBe(false);
      expect(v.ok ? "" : v.error).toContain("which webhooks may not reach");
    }
    answer = ["10.9.9.9"]; // listed itself: allowed
    expect((await resolve("http://ha.local/x")).ok).toBe(true);
    answer = ["127.0.0.1", "::1"]; // localhost may be loopback, and is only when allowed by name
    expect(await resolve("http://localhost:1/x")).toEqual({ ok: true, address: "127.0.0.1", family: 4 });
    // A refused host is never looked up; an IP literal needs no lookup.
    lookups.length = 0;
    expect((await resolve("http://evil.example/x")).ok).toBe(false);
    expect((await resolve("http://10.9.9.9/x")).ok).toBe(true);
    expect(lookups).toEqual([]);
  });

  test("the pinned URL keeps scheme, port, path and query and swaps only the host", () => {
    const url = new URL("https://ha.local:8123/api/webhook/x?a=1");
    expect(pinnedUrl(url, "192.168.1.5", 4)).toBe("https://192.168.1.5:8123/api/webhook/x?a=1");
    expect(pinnedUrl(url, "fd00::5", 6)).toBe("https://[fd00::5]:8123/api/webhook/x?a=1");
  });
});
