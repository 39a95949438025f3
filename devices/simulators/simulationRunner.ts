/**
 * Runs home simulators against the real clock: every tick, each home's
 * events that have come due are sent to its gateway (JSON lines) or act on its
 * uplink (network loss). Nothing here decides what happens; the simulators do.
 */
import type { HomeSimulator, SimEvent } from './homeSimulator.js';
import type { LineAnswer } from './lineFeeder.js';

/** Where one home's events go. */
export interface HomeChannel {
  send(line: object): Promise<LineAnswer>;
  uplink(action: 'cut' | 'restore'): void;
}

export interface RunnerReport {
  event: SimEvent;
  answer?: LineAnswer;
  error?: Error;
}

export interface SimulationRunnerOptions {
  tickMs?: number;
  now?: () => number;
  /** Every event once handled: with the gateway's answer for a line. */
  onEvent?: (report: RunnerReport) => void;
}

export class SimulationRunner {
  readonly stats = { sent: 0, accepted: 0, refused: 0, failed: 0 };
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(
    private readonly homes: ReadonlyArray<{ sim: HomeSimulator; channel: HomeChannel }>,
    private readonly options: SimulationRunnerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 250);
  }

  /** Stops ticking and waits for the answers of lines already sent. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Sends what is due now. */
  tick(): void {
    const wall = this.now();
    for (const { sim, channel } of this.homes) {
      for (const event of sim.advance(sim.clock.toVirtual(wall))) this.handle(event, channel);
    }
  }

  private handle(event: SimEvent, channel: HomeChannel): void {
    const report = this.options.onEvent ?? (() => {});
    if (event.kind === 'uplink') {
      channel.uplink(event.action);
      report({ event });
      return;
    }
    this.stats.sent++;
    const done = channel.send(event.line).then(
      (answer) => {
        if (answer.ok) this.stats.accepted++;
        else this.stats.refused++;
        report({ event, answer });
      },
      (error: Error) => {
        this.stats.failed++;
        report({ event, error });
      },
    );
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }
}
