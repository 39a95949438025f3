import { describe, expect, it } from 'vitest';
import { DemoOptionsError, parseDemoArgs } from '../../scripts/demoOptions.js';

describe('npm run demo options', () => {
  it('has defaults that match the README: 20 homes, ports 8080/1883, ./demo-data, an hour a minute', () => {
    expect(parseDemoArgs([])).toEqual({
      homes: 20, seed: 'anxin', httpPort: 8080, mqttPort: 1883, dataDir: './demo-data', keep: false,
      timeScale: 60, start: '06:50', historyDays: 7, build: true, logLevel: 'warn',
    });
  });

  it('reads every option', () => {
    expect(parseDemoArgs([
      '--homes', '3', '--seed', 's1', '--duration', '75', '--http-port', '18080', '--mqtt-port', '11883', '--data-dir', '/tmp/d',
      '--keep', '--time-scale', '120', '--start', '02:45', '--history-days', '0', '--skip-build', '--log-level', 'info',
    ])).toEqual({
      homes: 3, seed: 's1', durationSeconds: 75, httpPort: 18080, mqttPort: 11883, dataDir: '/tmp/d', keep: true,
      timeScale: 120, start: '02:45', historyDays: 0, build: false, logLevel: 'info',
    });
  });

  it.each([
    [['--homes', '0'], /--homes must be an integer 1–200/],
    [['--homes', 'many'], /--homes/],
    [['--duration'], /--duration needs a value/],
    [['--start', '7:00'], /HH:MM/],
    [['--time-scale', '0'], /--time-scale/],
    [['--http-port', '9000', '--mqtt-port', '9000'], /must differ/],
    [['--log-level', 'loud'], /pino level/],
    [['--colour', 'red'], /unknown option "--colour"/],
    [['stray'], /unknown argument "stray"/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseDemoArgs(argv)).toThrow(DemoOptionsError);
    expect(() => parseDemoArgs(argv)).toThrow(message);
  });
});
