/**
 * Entry of the thread that runs one health or energy job (./analysis-job.ts) and is then ended by the
 * insights actor: a week of history passes through a run, and what it leaves behind (heap blocks pinned
 * by a few survivors, the allocator's pages, the read connection's cache) goes with the thread instead of
 * staying in the actor. (The soak's slow climb, which this was first meant to fix, turned out to come from
 * elsewhere: it stays with these runs put off.)
 */
import { type AnalysisJob, runAnalysis } from "./analysis-job.ts";

declare const self: Worker;
self.onmessage = (event: MessageEvent<AnalysisJob>) => {
  self.postMessage(runAnalysis(event.data));
};
