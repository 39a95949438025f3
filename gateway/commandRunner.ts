/**
 * Runs an installer-configured command (a speaker, a dial-out, a text-to-speech
 * line) without a shell and without waiting for it: the caller never blocks,
 * a command that hangs is killed after its timeout, and a command that cannot
 * start is logged, never thrown.
 */
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { CommandConfig } from './config.js';

export type CommandRunner = (purpose: string, command: CommandConfig, env: Record<string, string>) => void;

export function createCommandRunner(log: Logger): CommandRunner {
  return (purpose, command, env) => {
    let child;
    try {
      child = spawn(command.command, command.args, { env: { ...process.env, ...env }, stdio: 'ignore', windowsHide: true });
    } catch (err) {
      log.error({ purpose, command: command.command, err: (err as Error).message }, 'hook command could not start');
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), command.timeoutSeconds * 1000);
    timer.unref();
    child.once('error', (err) => {
      clearTimeout(timer);
      log.error({ purpose, command: command.command, err: err.message }, 'hook command could not start');
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const level = code === 0 ? 'info' : 'error';
      log[level]({ purpose, command: command.command, code, signal }, 'hook command finished');
    });
  };
}
