import type { DiskSpeed, Machine } from '../lib/machine.js';
import type { Mode } from '../plan.js';

/** One row of the table in BENCHMARKS.md: a relay figure beside its anchor and target. */
export interface Figure {
  section: string;
  what: string;
  relay: string;
  anchor: string | null;
  /** relay ÷ anchor (time, CPU), where that is the comparison. */
  ratio: number | null;
  target: string | null;
  /** null: no target, or the measurement failed. */
  met: boolean | null;
}

export interface Results {
  mode: Mode;
  startedAt: string;
  wallSeconds: number;
  machine: Machine;
  disk: DiskSpeed | null;
  figures: Figure[];
  /** Raw numbers per section, for whoever wants more than the table. */
  sections: Record<string, unknown>;
  errors: Record<string, string>;
  notes: string[];
}
