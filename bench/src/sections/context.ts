import type { Plan } from '../plan.js';
import type { Figure } from '../report/results.js';

export interface BenchContext {
  plan: Plan;
  log(message: string): void;
  figure(figure: Figure): void;
  note(text: string): void;
  /** Results of earlier sections (end to end compares with ingest and forward). */
  sections: Record<string, unknown>;
}

/** "3.21 s", "412 ms". */
export function seconds(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 1 ? `${value.toFixed(2)} s` : `${Math.round(value * 1000)} ms`;
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(0)} MB`;
}

export function rate(bytes: number, secs: number): string {
  return `${(bytes / 1e6 / secs).toFixed(0)} MB/s`;
}

export function ratio(value: number): string {
  return `${value.toFixed(3)}×`;
}
