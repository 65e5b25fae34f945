/**
 * The one typed configuration of HomeIQ. Every bound the system has is a named value here, with its
 * default. Each key maps to an environment variable by path: `influx.url` -> `HOMEIQ_INFLUX_URL`,
 * `ha.authTimeoutMs` -> `HOMEIQ_HA_AUTH_TIMEOUT_MS`. A JSON file (`HOMEIQ_CONFIG`) uses the same shape.
 *
 * Each section belongs to the actor or feature named in its description; add keys where they belong.
 */
import { type Static, Type as T, type TSchema } from "@sinclair/typebox";

const int = (def: number, min: number, max: number, description: string) =>
  T.Integer({ default: def, minimum: min, maximum: max, description });
const num = (def: number, min: number, max: number, description: string) =>
  T.Number({ default: def, minimum: min, maximum: max, description });
const bool = (def: boolean, description: string) => T.Boolean({ default: def, description });
const str = (def: string, description: string) => T.String({ default: def, description });
const optStr = (description: string, extra: object = {}) => T.Optional(T.String({ description, ...extra }));
const list = (description: string) => T.Array(T.String(), { default: [], description });

export const LogLevelSchema = T.Union(
  [T.Literal("debug"), T.Literal("info"), T.Literal("warn"), T.Literal("error"), T.Literal("silent")],
  { default: "info", description: "one of debug, info, warn, error, silent" },
);

export const ConfigSchema = T.Object({
  dataDir: str("./data", "directory for the SQLite store, spool and token; created if missing"),
  port: int(8787, 0, 65535, "TCP port for the API and dashboard (0 picks a free port)"),
  host: str("0.0.0.0", "address the API listens on"),
  apiToken: optStr("bearer token for the API; generated and saved in the data dir when unset", {
    minLength: 16,
  }),
  logLevel: LogLevelSchema,
  metricsIntervalMs: int(1000, 50, 60000, "how often each actor reports its metrics to the supervisor"),

  ha: T.Object({
    url: optStr(
      "Home Assistant WebSocket URL, e.g. ws://homeassistant.local:8123/api/websocket; unset runs the simulator",
      {
        pattern: "^wss?://",
      },
    ),
    token: optStr("Home Assistant long-lived access token"),
    connectTimeoutMs: int(10000, 100, 120000, "time allowed to open the WebSocket"),
    authTimeoutMs: int(10000, 100, 120000, "time allowed for auth_required -> auth_ok"),
    pingIntervalMs: int(20000, 100, 600000, "how often the watchdog pings HA"),
    pongTimeoutMs: int(10000, 100, 600000, "a pong later than this reconnects"),
    reconnectMinMs: int(500, 10, 600000, "first reconnect backoff"),
    reconnectMaxMs: int(30000, 10, 3600000, "longest reconnect backoff"),
    maxFrameBytes: int(
      16 * 1024 * 1024,
      1024,
      512 * 1024 * 1024,
      "frames larger than this are skipped and counted",
    ),
    spoolMaxBytes: int(
      512 * 1024 * 1024,
      1024 * 1024,
      64 * 1024 * 1024 * 1024,
      "disk spool bound for events waiting on a slow pipeline",
    ),
    backfillMarginMs: int(60000, 0, 3600000, "how far before the newest stored event a backfill starts"),
    backfillMaxMs: int(7 * 24 * 3600 * 1000, 60000, 90 * 24 * 3600 * 1000, "longest gap a backfill fetches"),
    reconnectBackfillMarginMs: int(
      1000,
      0,
      3600000,
      "after a reconnect, how far the gap backfill overlaps the live stream: it reaches this far past the first live change",
    ),
    backfillWindowMs: int(
      5 * 60 * 1000,
      1000,
      24 * 3600 * 1000,
      "one history request covers at most this long (halved when an answer exceeds maxFrameBytes)",
    ),
    backfillWindowRows: int(
      8192,
      100,
      10000000,
      "history rows one backfill request aims at (windows are sized from the answers); each answer is held whole as text and parsed rows, so this bounds a backfill's memory (a 10 s gap at 170,000 changes/s is 1.7M rows)",
    ),
    forwardMaxEvents: int(
      2048,
      16,
      1000000,
      "most state changes in one batch handed to the batcher (or the spool): a history answer or a coalesced frame is split, so the memory in flight on the event edge is bounded by mailbox.eventsCapacity × this",
    ),
    spoolSegmentBytes: int(
      8 * 1024 * 1024,
      64 * 1024,
      1024 * 1024 * 1024,
      "size of one spool segment file (the drain reads a segment at a time)",
    ),
    backfillSettleMs: int(
      7000,
      0,
      600000,
      "after a reconnect's backfill, the wait before history is asked again for the tail HA's recorder had not committed yet; repeated until a pass finds nothing new. Set it to HA's recorder commit_interval plus ~2 s: 7000 for the default 5 s, 32000 for the 30 s advised on SD cards; 0 trusts the first pass",
    ),
    backfillRetryMinMs: int(
      2000,
      100,
      3600000,
      "first wait before a backfill HA refused (e.g. history not loaded yet) is retried on the same connection; doubles up to backfillRetryMaxMs",
    ),
    backfillRetryMaxMs: int(300000, 100, 24 * 3600000, "longest wait between backfill retries"),
    requestTimeoutMs: int(
      120000,
      1000,
      3600000,
      "a request HA has not answered within this long reconnects (the gap is backfilled): no silent stall",
    ),
    importDays: int(
      10,
      0,
      3650,
      "days of HA's recorded history imported on the first start (HA's default purge_keep_days is 10); 0 disables it (homeiq import-history --days N still works)",
    ),
    importStatisticsDays: int(
      365,
      0,
      3650,
      "days of HA's hourly long-term statistics imported into the hourly/daily tiers, for the hours before the raw history",
    ),
    importWindowMs: int(3600000, 60000, 24 * 3600000, "one history import request covers this long"),
    importEntityBatch: int(100, 1, 10000, "entities named in one history import request"),
    importPaceMs: int(
      100,
      0,
      60000,
      "wait between history import requests, so HA stays responsive (one request is in flight at a time)",
    ),
    maxAttributeDepth: int(
      254,
      2,
      5000,
      "state records whose attributes nest deeper are skipped and counted in events_skipped_total{reason=too_deep}; HA's encoder writes at most 254 levels, so deeper is hostile",
    ),
  }),

  sim: T.Object({
    enabled: bool(true, "run the built-in simulated home when ha.url is unset"),
    port: int(0, 0, 65535, "port of the built-in simulator (0 picks a free port)"),
    entities: int(300, 1, 100000, "number of entities in the simulated home"),
    rate: num(20, 0, 1000000, "state changes per second the simulated home emits"),
    seed: int(42, 0, 2 ** 31 - 1, "random seed of the simulated home"),
    historyMax: int(2000000, 1000, 100000000, "state changes the simulator keeps for history requests"),
    historyDays: int(10, 0, 3650, "days of recorded history the simulated home has from before it started"),
    statisticsDays: int(
      90,
      0,
      3650,
      "days of hourly long-term statistics the simulated home has from before it started",
    ),
  }),

  mailbox: T.Object({
    capacity: int(16, 1, 100000, "default messages (batches) an edge may have outstanding"),
    eventsCapacity: int(
      16,
      1,
      100000,
      "capacity of the event edges (connection -> batcher -> ...); each message is up to ha.forwardMaxEvents changes and is held by both ends until acknowledged",
    ),
  }),

  supervisor: T.Object({
    maxRestarts: int(5, 0, 1000, "restarts allowed within restartPeriodMs before the runtime stops"),
    restartPeriodMs: int(30000, 1000, 3600000, "window of the restart-intensity limit"),
    backoffMinMs: int(100, 1, 60000, "first restart delay"),
    backoffMaxMs: int(5000, 1, 600000, "longest restart delay"),
    startTimeoutMs: int(15000, 100, 600000, "time an actor has to report ready"),
    // 30 s: ten times the longest turn a healthy actor takes (a batcher transaction behind an SD card's
    // fsync stall, a WAL checkpoint), while the connection spools to disk so storage loses nothing in the
    // wait; past it, webhooks have waited long enough that a restart is the lesser harm.
    stuckAfterMs: int(
      30000,
      100,
      3600000,
      "an actor with messages waiting that finishes none for this long is stuck: /health/deep degrades and it is restarted",
    ),
  }),

  debugFaults: bool(
    false,
    "allow fault injection through the API (POST /api/v1/debug/crash); for soak and failure tests only",
  ),

  actorHeapCollectBytes: int(
    8 * 1024 * 1024,
    0,
    4 * 1024 ** 3,
    "an actor whose JavaScript heap grows this far past what its last full collection left collects at once (checked every 100 ms): under a burst (a backfill, a spool drain, a catch-up) the heap, mostly big strings, would otherwise grow by hundreds of MB first; 0 leaves it to the engine",
  ),
  memoryBudgetBytes: int(
    300 * 1024 * 1024,
    0,
    64 * 1024 ** 3,
    "process memory (RSS) past which every actor holding garbage collects it at once (each at most every 250 ms); at 1,000 events/s HomeIQ uses ~170 MB, so this acts only under bursts; 0 = off",
  ),
  heavyRunMaxWaitMs: int(
    15 * 60000,
    0,
    24 * 3600000,
    "longest a heavy background run (insights analysis, mining) waits for the one before it; then it runs anyway",
  ),

  shutdownDeadlineMs: int(
    10000,
    100,
    600000,
    "graceful shutdown must finish within this; then the process exits",
  ),

  batcher: T.Object({
    maxEvents: int(10000, 1, 1000000, "most events per store transaction and per live-feed batch"),
    maxDelayMs: int(50, 1, 60000, "longest a stored event waits for the live feed and Influx wake-up"),
    webhooksBacklogEvents: int(
      20000,
      0,
      10000000,
      "stored events held for a slow webhook dispatcher; beyond it the oldest are dropped (counted), never storage",
    ),
  }),

  store: T.Object({
    rawDays: int(7, 1, 3650, "days raw events are kept"),
    hourlyDays: int(30, 1, 3650, "days hourly rollups are kept"),
    dailyDays: int(90, 1, 36500, "days daily rollups are kept"),
    maxBytes: int(
      8 * 1024 ** 3,
      1024 * 1024,
      16 * 1024 ** 4,
      "disk bound of the store; oldest rolled-up raw events go first",
    ),
    unexportedHoldBytes: int(
      1024 ** 3,
      0,
      16 * 1024 ** 4,
      "while InfluxDB is configured, how far past maxBytes the store may grow holding raw events InfluxDB has not acknowledged; past it the oldest are dropped, counted and logged as errors",
    ),
    rollupIntervalMs: int(5000, 100, 3600000, "how often rollups and retention run"),
    rollupChunk: int(50000, 100, 10000000, "raw events rolled up per step, so ingest never stalls"),
    dictionaryCache: int(
      10000,
      16,
      10000000,
      "entries per dictionary cache (attributes, states) in the batcher's writer and the InfluxDB exporter",
    ),
  }),

  influx: T.Object({
    url: optStr("InfluxDB 2.x URL, e.g. http://localhost:8086; unset disables the writer", {
      pattern: "^https?://",
    }),
    token: optStr("InfluxDB API token"),
    org: optStr("InfluxDB organisation"),
    bucket: optStr("InfluxDB bucket"),
    batchSize: int(5000, 1, 1000000, "points per write request"),
    inFlight: int(2, 1, 16, "write requests in flight while catching up"),
    flushIntervalMs: int(200, 10, 600000, "how often the writer looks for new events when caught up"),
    timeoutMs: int(10000, 100, 600000, "timeout of one write request"),
    retryMinMs: int(500, 10, 600000, "first retry delay"),
    retryMaxMs: int(30000, 10, 3600000, "longest retry delay"),
    breakerThreshold: int(5, 1, 1000, "consecutive failures that open the circuit breaker"),
    breakerCooldownMs: int(10000, 100, 3600000, "how long the breaker stays open before a trial write"),
  }),

  api: T.Object({
    bodyLimitBytes: int(1024 * 1024, 1024, 1024 ** 3, "largest request body accepted"),
    rateLimitPerMinute: int(600, 1, 10000000, "requests per client per minute"),
    corsOrigins: list("origins allowed by CORS; empty means closed"),
    pageMax: int(1000, 1, 100000, "hard limit of rows per page"),
    sseQueueMax: int(1000, 1, 1000000, "events buffered per SSE client before it is cut off"),
    sseMaxClients: int(
      100,
      1,
      100000,
      "live streams (SSE) open at once; one more is refused with 503 (each holds up to sseQueueMax events)",
    ),
    rateLimitClients: int(
      10000,
      1,
      10000000,
      "clients the rate limiter tracks; the least recent is forgotten",
    ),
    rateWindowMs: int(10000, 1000, 3600000, "window over which real-time-metrics computes events/s"),
    ingressFrom: optStr(
      "peer address of Home Assistant's ingress proxy (the Supervisor, 172.30.32.2 in the add-on); when set, HomeIQ also listens on api.ingressPort, answers only connections from this address there and treats them as authenticated (Home Assistant has logged the user in). Unset: no ingress listener, the token is needed everywhere",
      { pattern: "^[0-9A-Fa-f.:]+$" },
    ),
    ingressPort: int(
      8099,
      0,
      65535,
      "port of the ingress listener, used only when api.ingressFrom is set (0 picks a free port)",
    ),
  }),

  webhooks: T.Object({
    toleranceSec: int(300, 1, 86400, "receivers reject signatures older than this"),
    maxAttempts: int(8, 1, 100, "delivery attempts before dead-lettering"),
    maxAgeMs: int(24 * 3600 * 1000, 1000, 30 * 24 * 3600 * 1000, "delivery age before dead-lettering"),
    retryMinMs: int(1000, 1, 3600000, "first retry delay"),
    retryMaxMs: int(5 * 60 * 1000, 1, 24 * 3600 * 1000, "longest retry delay"),
    concurrencyPerTarget: int(4, 1, 1000, "deliveries in flight per target host"),
    timeoutMs: int(10000, 100, 600000, "timeout of one delivery"),
    allowHosts: list(
      "hosts (names or IP addresses) webhook targets may name besides Home Assistant's own host (that of ha.url, or the simulator's 127.0.0.1); every other host is refused",
    ),
    responseMaxBytes: int(
      64 * 1024,
      0,
      64 * 1024 * 1024,
      "bytes of a webhook answer read; a longer answer is cut off (its status still counts)",
    ),
    maxEventAgeMs: int(
      60000,
      0,
      7 * 24 * 3600 * 1000,
      "a live state change older than this (its last_updated against HomeIQ's clock) fires no webhook; 0 turns the check off",
    ),
    maxRules: int(10000, 1, 1000000, "bound on stored rules"),
    apiCallTimeoutMs: int(
      5000,
      100,
      600000,
      "how long the API waits for the webhook dispatcher (webhooks.db's owner) to save a rule change; past it the API answers 503",
    ),
    breakerThreshold: int(
      5,
      1,
      1000,
      "consecutive failures to one target host that open its circuit breaker",
    ),
    breakerCooldownMs: int(
      30000,
      100,
      3600000,
      "how long a target's breaker stays open before a trial delivery",
    ),
    maxPending: int(10000, 1, 10000000, "pending deliveries kept; past this a new delivery is dead-lettered"),
    logMax: int(100000, 100, 100000000, "finished deliveries kept in the log (oldest pruned first)"),
    deadLetterMax: int(10000, 10, 10000000, "dead letters kept (oldest pruned first)"),
    matchCacheMax: int(100000, 100, 10000000, "entity ids whose matching rules are cached"),
    catchUpMaxEvents: int(
      100000,
      0,
      10000000,
      "stored changes newer than the last evaluated one read back from events.db at start (after a crash)",
    ),
  }),

  enrichers: T.Object({
    latitude: T.Optional(T.Number({ minimum: -90, maximum: 90, description: "overrides HA's latitude" })),
    longitude: T.Optional(T.Number({ minimum: -180, maximum: 180, description: "overrides HA's longitude" })),
    weather: bool(true, "poll Open-Meteo weather"),
    airQuality: bool(true, "poll Open-Meteo air quality"),
    carbon: bool(true, "poll UK carbon intensity"),
    prices: bool(true, "poll aWATTar day-ahead prices"),
    weatherUrl: str("https://api.open-meteo.com", "base URL of Open-Meteo forecast"),
    airQualityUrl: str("https://air-quality-api.open-meteo.com", "base URL of Open-Meteo air quality"),
    carbonUrl: str("https://api.carbonintensity.org.uk", "base URL of the carbon intensity API"),
    pricesUrl: str("https://api.awattar.de", "base URL of aWATTar"),
    carbonRegionId: int(13, 1, 18, "UK carbon intensity region id"),
    weatherPollMs: int(5 * 60000, 1000, 24 * 3600000, "how often weather is polled"),
    airQualityPollMs: int(15 * 60000, 1000, 24 * 3600000, "how often air quality is polled"),
    carbonPollMs: int(30 * 60000, 1000, 24 * 3600000, "how often carbon intensity is polled"),
    pricesPollMs: int(60 * 60000, 1000, 24 * 3600000, "how often day-ahead prices are polled"),
    weatherTtlMs: int(5 * 60000, 100, 24 * 3600000, "weather stays fresh this long; older is served stale"),
    airQualityTtlMs: int(15 * 60000, 100, 24 * 3600000, "air quality stays fresh this long"),
    carbonTtlMs: int(30 * 60000, 100, 24 * 3600000, "carbon intensity stays fresh this long"),
    pricesTtlMs: int(60 * 60000, 100, 24 * 3600000, "day-ahead prices stay fresh this long"),
    cacheMaxEntries: int(1000, 1, 1000000, "responses each enricher caches (LRU bound, one per location)"),
    timeoutMs: int(10000, 100, 600000, "timeout of one API request"),
    maxResponseBytes: int(1024 * 1024, 1024, 64 * 1024 * 1024, "larger API responses are rejected"),
    retryMinMs: int(5000, 10, 3600000, "first retry delay after a failed poll"),
    retryMaxMs: int(30 * 60000, 10, 24 * 3600000, "longest retry delay"),
    breakerThreshold: int(5, 1, 1000, "consecutive failures that open a source's circuit breaker"),
    breakerCooldownMs: int(10 * 60000, 100, 24 * 3600000, "how long a breaker stays open before a trial"),
    errorLogIntervalMs: int(
      10 * 60000,
      0,
      24 * 3600000,
      "repeats of a failing source log at most this often",
    ),
  }),

  ops: T.Object({
    backupDir: optStr("where backups are written (default <dataDir>/backups)"),
    backupIntervalMs: int(
      24 * 3600 * 1000,
      0,
      30 * 24 * 3600 * 1000,
      "how often a scheduled backup runs (0 turns the schedule off)",
    ),
    backupKeep: int(7, 1, 1000, "scheduled backups kept; older ones are deleted"),
    importMaxBytes: int(
      256 * 1024 * 1024,
      1024,
      16 * 1024 ** 3,
      "largest line-protocol upload POST /api/v1/import accepts (counted while the body streams in)",
    ),
    importMaxLineBytes: int(1024 * 1024, 1024, 64 * 1024 * 1024, "longest line an import accepts"),
    importMaxNewEntities: int(
      2000,
      0,
      65535,
      "most entities new to the store one import may add; a larger import is refused before anything is written",
    ),
    importEntityKeyReserve: int(
      8192,
      0,
      65535,
      "entity keys (of 65,535) imports never take, kept for the home's own new entities",
    ),
    importFutureSkewMs: int(
      5 * 60000,
      0,
      24 * 3600000,
      "an imported row dated more than this ahead of the clock is refused",
    ),
    exportPageSize: int(
      5000,
      100,
      1000000,
      "events read per page while streaming an export (bounds its memory)",
    ),
  }),

  suggestions: T.Object({
    intervalMs: int(6 * 3600 * 1000, 60000, 7 * 24 * 3600 * 1000, "how often the miner runs"),
    days: int(30, 1, 365, "history the miner reads"),
    startDelayMs: int(60000, 0, 24 * 3600 * 1000, "delay of the first scheduled run after start"),
    timeZone: str(
      "",
      "IANA time zone of the home for suggestions and insights (local hours and days), e.g. Europe/Berlin; empty uses Home Assistant's time_zone (get_config), else the system zone",
    ),
    minOccurrences: int(5, 2, 1000, "fewest occurrences (days) before a habit is proposed"),
    minConfidence: num(0.6, 0.1, 1, "smallest share of opportunities on which a habit must hold"),
    coWindowMs: int(30000, 1000, 600000, "an action this soon after a trigger counts as following it"),
    leftOnMinMs: int(30 * 60000, 60000, 24 * 3600 * 1000, "on this long with nobody home counts as left on"),
    chunkEvents: int(5000, 100, 1000000, "events read from events.db per SQL chunk while mining"),
    maxSamplesPerKey: int(5000, 100, 1000000, "samples the miner keeps per entity or pair"),
    maxOpen: int(100, 1, 10000, "open suggestions kept; the most confident win"),
    llmMaxPerRun: int(10, 0, 1000, "suggestions rewritten by the LLM per run (new ones only)"),
  }),

  insights: T.Object({
    searchScanRows: int(
      100000,
      1000,
      100000000,
      "raw events one search page may scan before it returns with a cursor",
    ),
    searchTermsMax: int(
      8,
      1,
      100,
      "terms one search may hold (each is matched against the state dictionary)",
    ),
    searchStatesMax: int(
      100000,
      1000,
      100000000,
      "newest distinct states one search matches its terms against; older ones are skipped and the page says statesTruncated",
    ),
    statsTop: int(20, 1, 1000, "busiest entities listed by the stats endpoint"),
    statsRefreshMs: int(
      60000,
      1000,
      3600000,
      "how often the insights actor recomputes the 7d and 30d stats (1h and 24h are computed per request)",
    ),
    traceMaxDepth: int(8, 1, 100, "context steps a trace follows up and down"),
    traceMaxEvents: int(500, 1, 100000, "events one trace may collect"),
    historyDays: int(7, 1, 90, "days of raw history the health and energy analyses read"),
    healthIntervalMs: int(
      5 * 60000,
      1000,
      24 * 3600000,
      "how often entity health is re-judged (a run reads historyDays of raw events)",
    ),
    energyIntervalMs: int(15 * 60000, 10000, 7 * 24 * 3600000, "how often energy impact is re-measured"),
    staleFactor: num(4, 1, 1000, "stale after this many times an entity's usual (p90) update interval"),
    minStaleMs: int(15 * 60000, 1000, 30 * 86400000, "never stale sooner than this"),
    minIntervals: int(10, 2, 100000, "update intervals needed before an entity's usual interval is learned"),
    regularityMax: num(
      4,
      1,
      1000,
      "p90/median interval ratio up to which an entity counts as a regular reporter",
    ),
    lowBatteryPct: num(20, 0, 100, "battery levels at or below this percentage are low"),
    flapWindowMs: int(3600000, 1000, 86400000, "window in which state changes are counted for flapping"),
    flapChanges: int(10, 2, 100000, "state changes within flapWindowMs that make an entity flapping"),
    flapFactor: num(5, 1, 1000, "...and at least this many times the entity's own usual changes per window"),
    energyWindowMs: int(120000, 1000, 3600000, "power readings taken on each side of an on/off event"),
    energySettleMs: int(10000, 0, 600000, "readings this soon after an event are skipped (meter lag)"),
    energyMinEvents: int(5, 1, 100000, "clean on/off events needed before a power step is reported"),
    energyMinStepW: num(5, 0, 100000, "power steps smaller than this (W) are never called measurable"),
    homePowerEntity: optStr("the home's total power sensor (W or kW); unset picks one by name or size", {
      pattern: "^sensor\\.[a-z0-9_]+$",
    }),
  }),

  llm: T.Object({
    url: optStr("OpenAI-compatible chat completions base URL; unset keeps suggestions deterministic", {
      pattern: "^https?://",
    }),
    model: optStr("model name for the LLM endpoint"),
    key: optStr("API key for the LLM endpoint"),
    timeoutMs: int(15000, 100, 600000, "timeout of one LLM request"),
  }),
});

export type HomeIQConfig = Static<typeof ConfigSchema>;
export type ConfigTSchema = TSchema;
