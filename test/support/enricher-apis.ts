/**
 * For tests only: a local HTTP server (127.0.0.1, port 0) that answers like the four enrichment APIs, in
 * their documented formats, and can be switched to every bad-response case. No test reaches the internet.
 */

export type FixtureMode =
  | "ok"
  | "html"
  | "server-error"
  | "html-server-error"
  | "client-error"
  | "truncated-json"
  | "cut-connection"
  | "changed-schema"
  | "timeout";

export interface FixtureServer {
  url: string;
  mode: FixtureMode;
  /** Requests seen, by path (without query). */
  hits: Map<string, number>;
  /** Last query string seen per path. */
  queries: Map<string, URLSearchParams>;
  /** Values the next ok responses carry; tests change them to see new readings. */
  data: FixtureData;
  total(): number;
  stop(): Promise<void>;
}

export interface FixtureData {
  /** Unix seconds of Open-Meteo's `current.time`. */
  currentTime: number;
  temperature: number;
  aqi: number;
  /** ISO start of the carbon half-hour. */
  carbonFrom: string;
  carbonForecast: number;
  /** aWATTar: first interval start (ms) and hourly prices. */
  pricesStart: number;
  prices: number[];
}

export const weatherBody = (d: FixtureData) => ({
  latitude: 52.52,
  longitude: 13.419998,
  generationtime_ms: 0.05,
  utc_offset_seconds: 0,
  timezone: "GMT",
  timezone_abbreviation: "GMT",
  elevation: 38,
  current_units: {
    time: "unixtime",
    interval: "seconds",
    temperature_2m: "°C",
    relative_humidity_2m: "%",
    cloud_cover: "%",
    precipitation: "mm",
    wind_speed_10m: "km/h",
    shortwave_radiation: "W/m²",
  },
  current: {
    time: d.currentTime,
    interval: 900,
    temperature_2m: d.temperature,
    relative_humidity_2m: 71,
    cloud_cover: 100,
    precipitation: 0.1,
    wind_speed_10m: 12.6,
    shortwave_radiation: null,
  },
});

export const airQualityBody = (d: FixtureData) => ({
  latitude: 52.5,
  longitude: 13.400002,
  generationtime_ms: 0.1,
  utc_offset_seconds: 0,
  timezone: "GMT",
  timezone_abbreviation: "GMT",
  elevation: 38,
  current_units: { time: "unixtime", interval: "seconds", european_aqi: "EAQI", pm2_5: "μg/m³" },
  current: {
    time: d.currentTime,
    interval: 3600,
    european_aqi: d.aqi,
    us_aqi: 42,
    pm10: 14.2,
    pm2_5: 9.8,
    carbon_monoxide: 187,
    nitrogen_dioxide: 11.4,
    ozone: 52,
  },
});

export const carbonBody = (d: FixtureData) => ({
  data: [
    {
      regionid: 13,
      dnoregion: "UKPN London",
      shortname: "London",
      data: [
        {
          from: d.carbonFrom,
          to: new Date(Date.parse(d.carbonFrom) + 1800_000).toISOString().replace(":00.000Z", "Z"),
          intensity: { forecast: d.carbonForecast, index: "moderate" },
          generationmix: [
            { fuel: "biomass", perc: 5.1 },
            { fuel: "coal", perc: 0 },
            { fuel: "gas", perc: 38.2 },
            { fuel: "wind", perc: 41.5 },
          ],
        },
      ],
    },
  ],
});

export const pricesBody = (d: FixtureData) => ({
  object: "list",
  data: d.prices.map((p, i) => ({
    start_timestamp: d.pricesStart + i * 3600_000,
    end_timestamp: d.pricesStart + (i + 1) * 3600_000,
    marketprice: p,
    unit: "Eur/MWh",
  })),
  url: "/de/v1/marketdata",
});

const HTML = `<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>`;

export const defaultFixtureData = (): FixtureData => ({
  currentTime: 1_764_000_000,
  temperature: 7.4,
  aqi: 23,
  carbonFrom: "2025-11-24T16:00Z",
  carbonForecast: 182,
  pricesStart: 1_764_000_000_000,
  prices: [92.5, 88.1, -3.2],
});

export function startFixtureServer(): FixtureServer {
  const pending = new Set<() => void>();
  const cut = startCutConnectionServer();
  const fixture: FixtureServer = {
    url: "",
    mode: "ok",
    hits: new Map(),
    queries: new Map(),
    data: defaultFixtureData(),
    total: () => [...fixture.hits.values()].reduce((a, b) => a + b, 0),
    stop: async () => {
      for (const release of pending) release();
      server.stop(true);
      cut.stop();
    },
  };
  const body = (path: string): unknown => {
    if (path === "/v1/forecast") return weatherBody(fixture.data);
    if (path === "/v1/air-quality") return airQualityBody(fixture.data);
    if (path.startsWith("/regional/regionid/")) return carbonBody(fixture.data);
    if (path === "/v1/marketdata") return pricesBody(fixture.data);
    return undefined;
  };
  const json = (value: unknown, status = 200) =>
    new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch(req) {
      const url = new URL(req.url);
      fixture.hits.set(url.pathname, (fixture.hits.get(url.pathname) ?? 0) + 1);
      fixture.queries.set(url.pathname, url.searchParams);
      const good = body(url.pathname);
      if (good === undefined) return json({ error: true, reason: `no route ${url.pathname}` }, 404);
      switch (fixture.mode) {
        case "ok":
          return json(good);
        case "html":
          return new Response(HTML, { status: 200, headers: { "content-type": "text/html" } });
        case "server-error":
          return json({ error: true, reason: "upstream overloaded" }, 503);
        case "html-server-error":
          return new Response(HTML, { status: 502, headers: { "content-type": "text/html" } });
        case "client-error":
          return json({ error: true, reason: "Parameter 'current' is invalid" }, 400);
        case "truncated-json": {
          const text = JSON.stringify(good);
          return new Response(text.slice(0, Math.floor(text.length / 2)), {
            headers: { "content-type": "application/json" },
          });
        }
        case "cut-connection":
          // Redirected to a raw socket that promises a longer body than it sends, then closes.
          return Response.redirect(`${cut.url}${url.pathname}`, 307);
        case "changed-schema":
          return json(renamed(good));
        case "timeout":
          return new Promise<Response>((resolve) => {
            const release = () => resolve(json(good));
            pending.add(release);
            setTimeout(() => {
              pending.delete(release);
              release();
            }, 5000);
          });
      }
    },
  });
  fixture.url = `http://127.0.0.1:${server.port}`;
  return fixture;
}

/** A raw TCP server answering every request with a Content-Length it does not honour, then closing. */
function startCutConnectionServer(): { url: string; stop(): void } {
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        const partial = '{"latitude":52.52,"longitude":13.4';
        socket.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 900\r\nconnection: close\r\n\r\n${partial}`,
        );
        socket.end();
      },
    },
  });
  return { url: `http://127.0.0.1:${listener.port}`, stop: () => listener.stop(true) };
}

/** A plausible API change: a field renamed / retyped somewhere inside the documented shape. */
function renamed(good: unknown): unknown {
  const g = structuredClone(good) as Record<string, unknown>;
  if ("current" in g) {
    const cur = g.current as Record<string, unknown>;
    cur.time = new Date((cur.time as number) * 1000).toISOString(); // unixtime -> ISO text
    return g;
  }
  if ("object" in g) {
    for (const d of g.data as Record<string, unknown>[]) {
      d.price = d.marketprice;
      delete d.marketprice;
    }
    return g;
  }
  return { regions: (g as { data: unknown }).data };
}
