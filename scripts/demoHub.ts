/**
 * The demo's hub: the real `server/index.ts` as a child process (exactly what
 * `npm start` runs), its log in a file, and a small client of its REST API
 * (SPEC §6) for sign-in, bulk import and secret rotation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface DemoHubOptions {
  root: string;
  httpPort: number;
  mqttPort: number;
  dataDir: string;
  adminPassword: string;
  logLevel: string;
  logFile: string;
}

export interface DemoHub {
  httpUrl: string;
  child: ChildProcess;
  exited: Promise<number | string>;
  /** SIGTERM (the hub commits what is queued and closes), SIGKILL after 15 s. */
  stop(): Promise<number | string>;
}

export async function startHub(o: DemoHubOptions): Promise<DemoHub> {
  const log = createWriteStream(o.logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    cwd: o.root,
    env: {
      ...process.env,
      ANXIN_HTTP_PORT: String(o.httpPort),
      ANXIN_MQTT_PORT: String(o.mqttPort),
      ANXIN_HOST: '127.0.0.1',
      ANXIN_DATA_DIR: o.dataDir,
      ANXIN_ADMIN_PASSWORD: o.adminPassword,
      ANXIN_LOG_LEVEL: o.logLevel,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C reaches the demo only, which stops the gateways before the hub.
    detached: true,
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  // Never leave a hub behind, whatever ends the demo.
  const killOnExit = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const httpUrl = `http://127.0.0.1:${o.httpPort}`;
  const hub: DemoHub = {
    httpUrl,
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      process.off('exit', killOnExit);
      log.end();
      return code;
    },
  };
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the hub exited (${child.exitCode}) while starting; its log:\n${await tail(o.logFile)}`);
    try {
      if ((await fetch(`${httpUrl}/readyz`)).status === 200) return hub;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      await hub.stop();
      throw new Error(`the hub was not ready within 60 s; its log:\n${await tail(o.logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function tail(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: unknown, message: string) {
    super(message);
  }
}

/** JSON over HTTP with a bearer token (SPEC §6). */
export class HubApi {
  constructor(private readonly baseUrl: string, private token?: string) {}

  async login(username: string, password: string): Promise<void> {
    const answer = await this.request<{ token: string }>('POST', '/api/v1/auth/login', { username, password });
    this.token = answer.token;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { ...(this.token && { authorization: `Bearer ${this.token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) as unknown : undefined;
    if (!res.ok) throw new ApiError(res.status, json, `${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return json as T;
  }
}
