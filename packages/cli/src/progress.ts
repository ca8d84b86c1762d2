import { FINAL_STATES, type PublicBatch, type PublicJob } from '@gtr/contract';
import cliProgress from 'cli-progress';
import { describeOutcome, describeProgress, formatBytes, formatDuration, truncate } from './format.js';
import type { Writer } from './io.js';

/** Bytes of one file going to the relay. */
export interface TransferBar {
  update(sent: number): void;
  /** The file is on the relay: prints `line` in place of the bar. */
  finish(line: string): void;
  /** Stops the bar where it is and prints `line`. */
  interrupt(line: string): void;
}

/** One job being followed until it is final. */
export interface JobLine {
  update(job: PublicJob): void;
}

/** Many jobs being followed: how many are final. */
export interface TallyBar {
  update(counts: { final: number; ready: number; failed: number; canceled: number }): void;
}

/** One batch being followed: its counts, rate and ETA as the relay reports them. */
export interface BatchBar {
  update(batch: PublicBatch): void;
}

export interface Progress {
  transfer(label: string, total: number, start: number): TransferBar;
  job(label: string): JobLine;
  tally(total: number): TallyBar;
  batch(): BatchBar;
  /** A line that stays: above the bars on a terminal, else simply printed. */
  log(line: string): void;
  /** Stops redrawing; call before printing anything else. */
  stop(): void;
}

const LABEL_WIDTH = 20;

/**
 * Bars redrawn in place on a terminal (cli-progress); elsewhere (pipes, files, CI logs) plain
 * lines at milestones, so logs stay readable.
 */
export function createProgress(out: Writer, now: () => number = Date.now): Progress {
  return out.isTTY ? new TerminalProgress(out, now) : new PlainProgress(out, now);
}

/** Throughput over the last few seconds, and the time left at that pace. */
class Rate {
  private samples: Array<{ at: number; value: number }> = [];

  constructor(private readonly now: () => number) {}

  add(value: number): void {
    const at = this.now();
    this.samples.push({ at, value });
    while (this.samples.length > 2 && at - this.samples[0]!.at > 5_000) this.samples.shift();
  }

  /** Per second; null until there is a measurable interval. */
  perSecond(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at - first.at < 200) return null;
    return ((last.value - first.value) / (last.at - first.at)) * 1000;
  }

  summary(value: number, total: number): string {
    const speed = this.perSecond();
    if (speed === null) return '';
    const eta = speed > 0 ? formatDuration(((total - value) / speed) * 1000) : '?';
    return `${formatBytes(speed)}/s, ETA ${eta}`;
  }
}

class PlainProgress implements Progress {
  constructor(
    private readonly out: Writer,
    private readonly now: () => number,
  ) {}

  transfer(label: string, total: number, start: number): TransferBar {
    const rate = new Rate(this.now);
    rate.add(start);
    const step = (value: number) => (total > 0 ? Math.floor((value / total) * 10) : 10);
    let printed = step(start);
    let last = start;
    return {
      update: (sent) => {
        last = sent;
        rate.add(sent);
        const s = step(sent);
        if (s <= printed || s >= 10) return;
        printed = s;
        const pace = rate.summary(sent, total);
        this.log(
          `${label}: ${s * 10}% (${formatBytes(sent)} of ${formatBytes(total)}${pace ? `, ${pace}` : ''})`,
        );
      },
      finish: (line) => this.log(line),
      interrupt: (line) => this.log(`${line} at ${formatBytes(last)} of ${formatBytes(total)}`),
    };
  }

  job(label: string): JobLine {
    let previous = '';
    return {
      update: (job) => {
        const text = plainJobText(job);
        if (text === previous) return;
        previous = text;
        this.log(`${label}: ${text}`);
      },
    };
  }

  tally(total: number): TallyBar {
    let printedStep = -1;
    return {
      update: (c) => {
        const step = total > 0 ? Math.floor((c.final / total) * 10) : 10;
        if (step === printedStep) return;
        printedStep = step;
        this.log(tallyText(total, c));
      },
    };
  }

  batch(): BatchBar {
    let printedStep = -1;
    return {
      update: (b) => {
        const step = b.total > 0 ? Math.floor((finalOf(b) / b.total) * 10) : 10;
        if (step === printedStep) return;
        printedStep = step;
        this.log(`jobs: ${batchText(b)}`);
      },
    };
  }

  log(line: string): void {
    this.out.write(`${line}\n`);
  }

  stop(): void {}
}

const finalOf = (b: PublicBatch): number => FINAL_STATES.reduce((n, s) => n + b.counts[s], 0);

/** `3412/5000 final (3400 ready, 12 failed) · 85.3/min · ETA 18m 36s` */
export function batchText(b: PublicBatch): string {
  const parts = [`${b.counts.ready} ready`, `${b.counts.failed} failed`];
  if (b.counts.canceled) parts.push(`${b.counts.canceled} canceled`);
  const rate = b.rate_per_minute === null ? '' : ` · ${b.rate_per_minute}/min`;
  const eta = b.finished_at
    ? ''
    : b.eta_seconds === null
      ? ' · ETA ?'
      : ` · ETA ${formatDuration(b.eta_seconds * 1000)}`;
  return `${finalOf(b)}/${b.total} final (${parts.join(', ')})${rate}${eta}`;
}

/** While following: the state, and forwarding progress in quarters, so logs stay short. */
function plainJobText(job: PublicJob): string {
  if (job.state === 'ready' || job.state === 'failed' || job.state === 'canceled')
    return describeOutcome(job);
  if (job.state === 'uploading' && job.size) {
    const quarter = Math.floor((job.bytes_forwarded / job.size) * 4) * 25;
    return `uploading to Gcore, ${Math.min(quarter, 100)}% forwarded`;
  }
  const detail = describeProgress(job);
  return detail ? `${job.state} (${detail})` : job.state;
}

function tallyText(
  total: number,
  c: { final: number; ready: number; failed: number; canceled: number },
): string {
  const parts = [`${c.ready} ready`, `${c.failed} failed`];
  if (c.canceled) parts.push(`${c.canceled} canceled`);
  return `jobs: ${c.final}/${total} final (${parts.join(', ')})`;
}

interface Payload {
  label: string;
  text: string;
}

class TerminalProgress implements Progress {
  private multi: cliProgress.MultiBar | null = null;

  constructor(
    private readonly out: Writer,
    private readonly now: () => number,
  ) {}

  private bars(): cliProgress.MultiBar {
    if (!this.multi) {
      this.multi = new cliProgress.MultiBar({
        stream: this.out as NodeJS.WritableStream,
        format: (_options, params, payload: Payload) => {
          // The bar takes what the label and the text leave of the terminal's width.
          const room = (this.out.columns ?? 80) - payload.label.length - payload.text.length - 3;
          const width = Math.max(5, Math.min(40, room));
          const filled = Math.round(Math.min(1, Math.max(0, params.progress)) * width);
          return `${payload.label} ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${payload.text}`;
        },
        hideCursor: true,
        clearOnComplete: true,
        linewrap: true,
        gracefulExit: false,
        fps: 8,
      });
    }
    return this.multi;
  }

  transfer(label: string, total: number, start: number): TransferBar {
    const rate = new Rate(this.now);
    rate.add(start);
    const name = truncate(label, LABEL_WIDTH).padEnd(LABEL_WIDTH);
    const text = (sent: number) => {
      const pct = total > 0 ? Math.floor((sent / total) * 100) : 100;
      const pace = rate.summary(sent, total);
      return `${String(pct).padStart(3)}% ${formatBytes(sent)}/${formatBytes(total)}${pace ? ` ${pace}` : ''}`;
    };
    const bar = this.bars().create(Math.max(total, 1), start, {
      label: name,
      text: text(start),
    } satisfies Payload);
    let last = start;
    const end = (line: string) => {
      this.bars().remove(bar);
      this.log(line);
    };
    return {
      update: (sent) => {
        last = sent;
        rate.add(sent);
        bar.update(sent, { label: name, text: text(sent) } satisfies Payload);
      },
      finish: end,
      interrupt: (line) => end(`${line} at ${formatBytes(last)} of ${formatBytes(total)}`),
    };
  }

  job(label: string): JobLine {
    const name = truncate(label, LABEL_WIDTH).padEnd(LABEL_WIDTH);
    let bar: cliProgress.SingleBar | null = null;
    let done = false;
    return {
      update: (job) => {
        if (done) return;
        if (job.state === 'ready' || job.state === 'failed' || job.state === 'canceled') {
          done = true;
          if (bar) this.bars().remove(bar);
          this.log(`${label}: ${describeOutcome(job)}`);
          return;
        }
        const total = Math.max(job.size ?? 1, 1);
        const detail = describeProgress(job);
        const payload: Payload = { label: name, text: `${job.state}${detail ? ` · ${detail}` : ''}` };
        if (!bar) bar = this.bars().create(total, job.bytes_forwarded, payload);
        else bar.update(job.bytes_forwarded, payload);
      },
    };
  }

  tally(total: number): TallyBar {
    const bar = this.bars().create(Math.max(total, 1), 0, {
      label: 'jobs',
      text: tallyText(total, { final: 0, ready: 0, failed: 0, canceled: 0 }),
    } satisfies Payload);
    return {
      update: (c) => bar.update(c.final, { label: 'jobs', text: tallyText(total, c) } satisfies Payload),
    };
  }

  batch(): BatchBar {
    let bar: cliProgress.SingleBar | null = null;
    return {
      update: (b) => {
        const payload: Payload = { label: 'batch', text: batchText(b) };
        if (!bar) bar = this.bars().create(Math.max(b.total, 1), finalOf(b), payload);
        else {
          bar.setTotal(Math.max(b.total, 1));
          bar.update(finalOf(b), payload);
        }
      },
    };
  }

  log(line: string): void {
    if (this.multi) this.multi.log(`${line}\n`);
    else this.out.write(`${line}\n`);
  }

  stop(): void {
    if (!this.multi) return;
    // stop() drops lines still in the log buffer; one last redraw prints them.
    this.multi.update();
    this.multi.stop();
    this.multi = null;
  }
}
