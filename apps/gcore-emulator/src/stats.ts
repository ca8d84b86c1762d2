import { SlidingWindow } from './rate-window.js';

/** Counters since start or the last reset. */
export interface EmulatorStats {
  /** Requests under `/streaming` (not `/__emulator`, not TUS), refused ones included. */
  apiRequests: number;
  api429s: number;
  api5xxs: number;
  /** Requests of any method under `/upload`. */
  tusRequests: number;
  patches: number;
  patch429s: number;
  patch5xxs: number;
  patchDrops: number;
  patchStalls: number;
  videosCreated: number;
  /** Most API requests seen in any 1 s window (emulator clock), refused ones included. */
  peakApiRps: number;
  webhooksSent: number;
}

type Counter = Exclude<keyof EmulatorStats, 'peakApiRps'>;

function zero(): EmulatorStats {
  return {
    apiRequests: 0,
    api429s: 0,
    api5xxs: 0,
    tusRequests: 0,
    patches: 0,
    patch429s: 0,
    patch5xxs: 0,
    patchDrops: 0,
    patchStalls: 0,
    videosCreated: 0,
    peakApiRps: 0,
    webhooksSent: 0,
  };
}

export class Stats {
  #values = zero();
  #apiWindow = new SlidingWindow();

  count(counter: Counter): void {
    this.#values[counter]++;
  }

  /** Counts an API request at `now` and updates the peak rate. */
  apiRequest(now: number): void {
    this.#values.apiRequests++;
    this.#apiWindow.add(now);
    this.#values.peakApiRps = Math.max(this.#values.peakApiRps, this.#apiWindow.count(now));
  }

  snapshot(): EmulatorStats {
    return { ...this.#values };
  }

  reset(): void {
    this.#values = zero();
    this.#apiWindow.clear();
  }
}
