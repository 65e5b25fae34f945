/**
 * Where webhooks may go. A rule's URL is a request HomeIQ makes on the user's behalf from inside the home
 * network, so by default it may reach only Home Assistant's own host (the host of `ha.url`; in simulator
 * mode the simulator's loopback address) and the hosts listed in `webhooks.allowHosts`. Anything else is
 * refused when a rule is saved and again before every send, with the same error and without connecting,
 * so a test fire cannot be used to probe which ports of which hosts answer.
 *
 * Names are resolved at send time and every address they resolve to is checked (a name allowed today may
 * point somewhere else tomorrow: DNS rebinding); the request then goes to that checked address, never
 * resolved a second time. An allowed name may resolve to public or private (LAN) addresses, which is where
 * Home Assistant lives; loopback (except for `localhost`), link-local (cloud metadata at 169.254.169.254),
 * unspecified, multicast and reserved addresses are refused unless that very address is allowed.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import { type CanonicalHost, canonicalHost } from "./ip.ts";

/** What a name resolves to (node:dns lookup with `all: true`); injected in tests. */
export type Lookup = (hostname: string) => Promise<readonly { address: string; family: number }[]>;
export const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** The simulator's listening address (sim/server.ts binds 127.0.0.1). */
const SIM_HOST = "127.0.0.1";
/**
 * As an add-on, HomeIQ reaches HA through the Supervisor's proxy (ws://supervisor/core/websocket), but
 * webhooks go to Core itself, `homeassistant` on the add-on network; the Supervisor is no webhook target.
 */
const ADDON_PROXY = "supervisor";
const ADDON_CORE = "homeassistant";
const RESTRICTED = new Set(["loopback", "link-local", "unspecified", "multicast", "reserved"]);

export type HostVerdict = { ok: true; host: CanonicalHost } | { ok: false; error: string };
export type AddressVerdict = { ok: true; address: string; family: 4 | 6 } | { ok: false; error: string };

export class TargetPolicy {
  private readonly names = new Set<string>();
  private readonly addresses = new Set<string>();

  /** `hosts`: allowed names or IP literals in any spelling; entries no host can be are ignored. */
  constructor(hosts: readonly string[]) {
    for (const h of hosts) {
      const c = canonicalHost(h);
      if (c?.kind === "ip") this.addresses.add(c.text);
      else if (c) this.names.add(c.text);
    }
  }

  /**
   * HA's host (ha.url's; `homeassistant` for an add-on's `supervisor` proxy; the simulator's when ha.url is
   * unset and the simulator runs) + allowHosts.
   */
  static fromConfig(config: {
    ha: Pick<HomeIQConfig["ha"], "url">;
    sim: Pick<HomeIQConfig["sim"], "enabled">;
    webhooks: Pick<HomeIQConfig["webhooks"], "allowHosts">;
  }): TargetPolicy {
    const hosts = [...config.webhooks.allowHosts];
    if (config.ha.url) {
      try {
        const ha = canonicalHost(new URL(config.ha.url).hostname);
        if (ha) hosts.push(ha.text === ADDON_PROXY ? ADDON_CORE : ha.text);
      } catch {
        // ha.url is checked by the config schema; a URL that still does not parse adds no host.
      }
    } else if (config.sim.enabled) hosts.push(SIM_HOST);
    return new TargetPolicy(hosts);
  }

  /** The allowed hosts, for error messages. */
  describe(): string {
    const all = [...this.names, ...this.addresses];
    return all.length === 0 ? "none" : all.join(", ");
  }

  private refused(host: string, why: string): { ok: false; error: string } {
    return {
      ok: false,
      error: `host "${host}" ${why}; webhooks may reach Home Assistant's host and webhooks.allowHosts (${this.describe()}). Fix: point the rule at an allowed host, or add the host to HOMEIQ_WEBHOOKS_ALLOW_HOSTS.`,
    };
  }

  /** Whether a URL's hostname is an allowed target (checked on save and before each send). */
  checkHost(hostname: string): HostVerdict {
    const host = canonicalHost(hostname);
    if (!host) return this.refused(hostname, "is not a host name or IP address");
    const allowed = host.kind === "ip" ? this.addresses.has(host.text) : this.names.has(host.text);
    if (!allowed) return this.refused(host.text, "is not an allowed webhook target");
    return { ok: true, host };
  }

  /** Whether an address an allowed host resolved to may be connected to. */
  checkAddress(host: CanonicalHost, address: string): AddressVerdict {
    const a = canonicalHost(address);
    if (a?.kind !== "ip") return this.refused(host.text, `resolved to "${address}", not an IP address`);
    const ok =
      this.addresses.has(a.text) ||
      !RESTRICTED.has(a.cls) ||
      (a.cls === "loopback" && host.kind === "name" && host.text === "localhost");
    if (!ok) return this.refused(host.text, `resolves to ${a.text} (${a.cls}), which webhooks may not reach`);
    return { ok: true, address: a.text, family: a.family };
  }

  /**
   * The address to connect to for `url`: the host checked, a name resolved and every address checked.
   * Never connects; a refusal reads the same whether or not anything listens there.
   */
  async resolve(url: URL, lookup: Lookup): Promise<AddressVerdict> {
    const host = this.checkHost(url.hostname);
    if (!host.ok) return host;
    if (host.host.kind === "ip") return this.checkAddress(host.host, host.host.text);
    let found: readonly { address: string; family: number }[];
    try {
      found = await lookup(host.host.text);
    } catch (error) {
      return {
        ok: false,
        error: `host "${host.host.text}" could not be resolved: ${(error as Error).message}`,
      };
    }
    if (found.length === 0) return { ok: false, error: `host "${host.host.text}" resolved to no address` };
    let first: AddressVerdict | undefined;
    for (const f of found) {
      const v = this.checkAddress(host.host, f.address);
      if (!v.ok) return v;
      first ??= v;
    }
    return first as AddressVerdict;
  }
}

/** `url` with its host replaced by the checked address; the original host goes in the Host header. */
export function pinnedUrl(url: URL, address: string, family: 4 | 6): string {
  const pinned = new URL(url.href);
  pinned.hostname = family === 6 ? `[${address}]` : address;
  return pinned.href;
}
