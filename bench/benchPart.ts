/** The contract between `bench/run.ts` and each benchmark part, and its flag parsing. */

/** What a part hands back: a JSON record for `bench/results/<part>.json` and a table for people. */
export interface BenchOutcome {
  /** Written as-is to `bench/results/<part>.json`. */
  record: object;
  table: { columns: string[]; rows: string[][] };
  /** Printed under the table: conditions of the measurement, the target and the verdict. */
  notes: string[];
  /** Something broke (a crash, lost data): the run exits non-zero. A slow result is not a problem. */
  problems: string[];
}

export interface BenchPart {
  name: string;
  /** One line for `npm run bench -- --help`. */
  describe: string;
  /** The flags it reads, with defaults, for the help text. */
  flags: Record<string, string>;
  /** Reads its flags (throwing on a bad one) before anything runs, and returns the run. */
  plan(flags: Flags): () => Promise<BenchOutcome>;
}

/** `--name value` pairs from the command line. */
export class Flags {
  constructor(private readonly values: Map<string, string>) {}

  /** Parses `--a 1 --b=2`; anything else is a part name. */
  static parse(argv: string[]): { parts: string[]; flags: Flags } {
    const parts: string[] = [];
    const values = new Map<string, string>();
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith('--')) {
        parts.push(arg);
        continue;
      }
      const eq = arg.indexOf('=');
      if (eq > 0) values.set(arg.slice(2, eq), arg.slice(eq + 1));
      else if (arg === '--help') values.set('help', 'true');
      else values.set(arg.slice(2), argv[++i] ?? '');
    }
    return { parts, flags: new Flags(values) };
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** A whole number within [min, max]: benchmarks stay bounded in size and time whatever is typed. */
  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.values.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    return n;
  }

  choice<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.values.get(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) throw new Error(`--${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
    return raw as T;
  }

  names(): string[] {
    return [...this.values.keys()].filter((k) => k !== 'help');
  }

  /** The value as typed, for passing a flag on to another process. */
  raw(name: string): string | undefined {
    return this.values.get(name);
  }
}
