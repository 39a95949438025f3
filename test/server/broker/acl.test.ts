/** Topic access rules (SPEC §2) and the topic module they rest on. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPIC_PREFIX, ID_PATTERN, Topics, isValidId, type ParsedTopic } from '../../../devices/topics.js';
import { authorizePublishTopic, authorizeSubscribeFilter, rejectsTopicFor, type Principal } from '../../../server/broker/acl.js';

const topics = new Topics();
const P = 'anxin/v1/homes';

/** d1, d2 live in h1 with gateway g1; d9 lives in h2 with gateway g2. */
const HOMES: Record<string, string> = { d1: 'h1', d2: 'h1', d9: 'h2' };
const deviceHome = (deviceId: string) => HOMES[deviceId];

const device: Principal = { kind: 'device', id: 'd1', homeId: 'h1' };
const gateway: Principal = { kind: 'gateway', id: 'g1', homeId: 'h1' };
const PRINCIPALS = { device, gateway };

describe('Topics', () => {
  it('builds every topic of SPEC §2 under the default prefix', () => {
    expect(DEFAULT_TOPIC_PREFIX).toBe('anxin/v1');
    expect(topics.telemetry('h1', 'd1')).toBe('anxin/v1/homes/h1/devices/d1/telemetry');
    expect(topics.deviceStatus('h1', 'd1')).toBe('anxin/v1/homes/h1/devices/d1/status');
    expect(topics.deviceRejects('h1', 'd1')).toBe('anxin/v1/homes/h1/devices/d1/rejects');
    expect(topics.gatewayStatus('h1')).toBe('anxin/v1/homes/h1/gateway/status');
    expect(topics.gatewayRejects('h1')).toBe('anxin/v1/homes/h1/gateway/rejects');
    expect(topics.alerts('h1')).toBe('anxin/v1/homes/h1/alerts');
  });

  const roundTrips: [string, (t: Topics) => string, ParsedTopic][] = [
    ['telemetry', (t) => t.telemetry('wh-0001', 'bp-0001'), { kind: 'telemetry', homeId: 'wh-0001', deviceId: 'bp-0001' }],
    ['deviceStatus', (t) => t.deviceStatus('wh-0001', 'bp-0001'), { kind: 'deviceStatus', homeId: 'wh-0001', deviceId: 'bp-0001' }],
    ['deviceRejects', (t) => t.deviceRejects('wh-0001', 'bp-0001'), { kind: 'deviceRejects', homeId: 'wh-0001', deviceId: 'bp-0001' }],
    ['gatewayStatus', (t) => t.gatewayStatus('wh-0001'), { kind: 'gatewayStatus', homeId: 'wh-0001' }],
    ['gatewayRejects', (t) => t.gatewayRejects('wh-0001'), { kind: 'gatewayRejects', homeId: 'wh-0001' }],
    ['alerts', (t) => t.alerts('wh-0001'), { kind: 'alerts', homeId: 'wh-0001' }],
  ];

  describe.each([DEFAULT_TOPIC_PREFIX, 'city/anxin/v2', 'anxin'])('with prefix %s', (prefix) => {
    const t = new Topics(prefix);
    it.each(roundTrips)('parses what it builds: %s', (_kind, build, parsed) => {
      const topic = build(t);
      expect(topic.startsWith(`${prefix}/homes/`)).toBe(true);
      expect(t.parse(topic)).toEqual(parsed);
    });
  });

  it('builds under a custom prefix and ignores topics of another prefix', () => {
    const custom = new Topics('city/anxin/v2');
    expect(custom.prefix).toBe('city/anxin/v2');
    expect(custom.telemetry('h1', 'd1')).toBe('city/anxin/v2/homes/h1/devices/d1/telemetry');
    expect(custom.alerts('h1')).toBe('city/anxin/v2/homes/h1/alerts');
    expect(custom.parse('anxin/v1/homes/h1/devices/d1/telemetry')).toBeNull();
    expect(topics.parse('city/anxin/v2/homes/h1/devices/d1/telemetry')).toBeNull();
  });

  it.each([
    ['another version sharing the prefix text', 'anxin/v10/homes/h1/alerts'],
    ['the prefix alone', 'anxin/v1'],
    ['the prefix with a slash', 'anxin/v1/'],
    ['no homes level', 'anxin/v1/h1/alerts'],
    ['homes without an id', 'anxin/v1/homes'],
    ['an unknown home topic', 'anxin/v1/homes/h1/settings'],
    ['an unknown device topic', 'anxin/v1/homes/h1/devices/d1/commands'],
    ['an unknown gateway topic', 'anxin/v1/homes/h1/gateway/telemetry'],
    ['a device without a topic', 'anxin/v1/homes/h1/devices/d1'],
    ['an extra level', 'anxin/v1/homes/h1/devices/d1/telemetry/x'],
    ['a trailing slash', 'anxin/v1/homes/h1/alerts/'],
    ['an empty home id', 'anxin/v1/homes//alerts'],
    ['an empty device id', 'anxin/v1/homes/h1/devices//telemetry'],
    ['an upper-case home id', 'anxin/v1/homes/H1/alerts'],
    ['an upper-case device id', 'anxin/v1/homes/h1/devices/D1/telemetry'],
    ['an underscore', 'anxin/v1/homes/h_1/alerts'],
    ['a leading hyphen', 'anxin/v1/homes/-h1/alerts'],
    ['a 65-character id', `anxin/v1/homes/${'a'.repeat(65)}/alerts`],
    ['a + wildcard for the home', 'anxin/v1/homes/+/alerts'],
    ['a + wildcard for the device', 'anxin/v1/homes/h1/devices/+/telemetry'],
    ['a # wildcard', 'anxin/v1/homes/h1/#'],
    ['a $SYS topic', '$SYS/anxin/v1/homes/h1/alerts'],
    ['a leading slash', '/anxin/v1/homes/h1/alerts'],
    ['an empty topic', ''],
  ])('parses %s as not ours', (_name, topic) => {
    expect(topics.parse(topic)).toBeNull();
  });

  it.each([
    ['h1', true],
    ['wh-0001', true],
    ['0', true],
    ['a'.repeat(64), true],
    ['a'.repeat(65), false],
    ['', false],
    ['-a', false],
    ['A1', false],
    ['a_1', false],
    ['a.1', false],
    ['a/1', false],
    ['+', false],
    ['#', false],
    ['设备', false],
  ])('isValidId(%j) = %s', (id, valid) => {
    expect(isValidId(id)).toBe(valid);
    expect(new RegExp(ID_PATTERN).test(id)).toBe(valid);
  });
});

describe('authorizePublishTopic', () => {
  type Expected = 'allowed' | 'topic_not_allowed' | 'unknown_device';
  // [principal, topic, expected]
  const cases: [keyof typeof PRINCIPALS, string, Expected][] = [
    ['device', `${P}/h1/devices/d1/telemetry`, 'allowed'],
    ['device', `${P}/h1/devices/d1/status`, 'allowed'],
    ['device', `${P}/h1/devices/d2/telemetry`, 'topic_not_allowed'],
    ['device', `${P}/h1/devices/d2/status`, 'topic_not_allowed'],
    ['device', `${P}/h1/devices/dx/telemetry`, 'topic_not_allowed'],
    ['device', `${P}/h2/devices/d9/telemetry`, 'topic_not_allowed'],
    ['device', `${P}/h2/devices/d9/status`, 'topic_not_allowed'],
    ['device', `${P}/h2/devices/d1/telemetry`, 'topic_not_allowed'],
    ['device', `${P}/h1/gateway/status`, 'topic_not_allowed'],
    ['device', `${P}/h1/devices/d1/rejects`, 'topic_not_allowed'],
    ['device', `${P}/h1/gateway/rejects`, 'topic_not_allowed'],
    ['device', `${P}/h1/alerts`, 'topic_not_allowed'],
    ['device', 'anxin/v1/homes/h1/devices/d1/commands', 'topic_not_allowed'],
    ['device', 'hello/world', 'topic_not_allowed'],
    ['device', 'city/anxin/v2/homes/h1/devices/d1/telemetry', 'topic_not_allowed'],
    ['gateway', `${P}/h1/devices/d1/telemetry`, 'allowed'],
    ['gateway', `${P}/h1/devices/d2/telemetry`, 'allowed'],
    ['gateway', `${P}/h1/devices/d1/status`, 'allowed'],
    ['gateway', `${P}/h1/devices/d2/status`, 'allowed'],
    ['gateway', `${P}/h1/gateway/status`, 'allowed'],
    ['gateway', `${P}/h1/devices/dx/telemetry`, 'unknown_device'],
    ['gateway', `${P}/h1/devices/dx/status`, 'unknown_device'],
    ['gateway', `${P}/h1/devices/d9/telemetry`, 'unknown_device'],
    ['gateway', `${P}/h1/devices/g1/telemetry`, 'unknown_device'],
    ['gateway', `${P}/h2/devices/d9/telemetry`, 'topic_not_allowed'],
    ['gateway', `${P}/h2/devices/d9/status`, 'topic_not_allowed'],
    ['gateway', `${P}/h2/devices/d1/telemetry`, 'topic_not_allowed'],
    ['gateway', `${P}/h2/gateway/status`, 'topic_not_allowed'],
    ['gateway', `${P}/h1/devices/d1/rejects`, 'topic_not_allowed'],
    ['gateway', `${P}/h1/gateway/rejects`, 'topic_not_allowed'],
    ['gateway', `${P}/h1/alerts`, 'topic_not_allowed'],
    ['gateway', `${P}/h2/alerts`, 'topic_not_allowed'],
    ['gateway', 'hello/world', 'topic_not_allowed'],
    ['gateway', '', 'topic_not_allowed'],
  ];

  it.each(cases)('%s publishing to %s: %s', (who, topic, expected) => {
    const decision = authorizePublishTopic(PRINCIPALS[who], topics.parse(topic), deviceHome);
    if (expected === 'allowed') {
      expect(decision).toEqual({ allowed: true });
    } else {
      expect(decision).toMatchObject({ allowed: false, reason: expected });
      expect(decision.allowed === false && decision.detail.length > 0).toBe(true);
    }
  });

  it('asks the directory where the device lives, not the topic', () => {
    const moved = (id: string) => (id === 'd1' ? 'h2' : HOMES[id]);
    expect(authorizePublishTopic(gateway, topics.parse(`${P}/h1/devices/d1/telemetry`), moved)).toMatchObject({ allowed: false, reason: 'unknown_device' });
    expect(authorizePublishTopic(gateway, topics.parse(`${P}/h1/devices/d2/telemetry`), moved)).toEqual({ allowed: true });
  });
});

describe('authorizeSubscribeFilter', () => {
  // [principal, filter, allowed]
  const cases: [keyof typeof PRINCIPALS, string, boolean][] = [
    ['device', `${P}/h1/devices/d1/rejects`, true],
    ['device', `${P}/h1/devices/d2/rejects`, false],
    ['device', `${P}/h2/devices/d1/rejects`, false],
    ['device', `${P}/h1/devices/+/rejects`, false],
    ['device', `${P}/h1/devices/d1/+`, false],
    ['device', `${P}/h1/devices/d1/telemetry`, false],
    ['device', `${P}/h1/devices/d1/status`, false],
    ['device', `${P}/h1/alerts`, false],
    ['device', `${P}/h1/gateway/rejects`, false],
    ['device', '#', false],
    ['device', `${P}/+/devices/d1/rejects`, false],
    ['gateway', `${P}/h1/alerts`, true],
    ['gateway', `${P}/h1/gateway/rejects`, true],
    ['gateway', `${P}/h1/devices/+/rejects`, true],
    ['gateway', `${P}/h1/devices/d1/rejects`, true],
    ['gateway', `${P}/h1/devices/d2/rejects`, true],
    ['gateway', `${P}/h1/devices/d9/rejects`, false],
    ['gateway', `${P}/h1/devices/dx/rejects`, false],
    ['gateway', `${P}/h2/alerts`, false],
    ['gateway', `${P}/h2/gateway/rejects`, false],
    ['gateway', `${P}/h2/devices/+/rejects`, false],
    ['gateway', `${P}/h2/devices/d9/rejects`, false],
    ['gateway', `${P}/+/alerts`, false],
    ['gateway', `${P}/+/devices/+/rejects`, false],
    ['gateway', `${P}/h1/devices/+/telemetry`, false],
    ['gateway', `${P}/h1/devices/+/status`, false],
    ['gateway', `${P}/h1/devices/d1/telemetry`, false],
    ['gateway', `${P}/h1/devices/#`, false],
    ['gateway', `${P}/h1/gateway/status`, false],
    ['gateway', `${P}/h1/#`, false],
    ['gateway', `${P}/#`, false],
    ['gateway', 'anxin/#', false],
    ['gateway', '#', false],
    ['gateway', '+/+/+/+/+', false],
    ['gateway', '$SYS/#', false],
    ['gateway', 'hello', false],
  ];

  it.each(cases)('%s subscribing to %s: %s', (who, filter, allowed) => {
    expect(authorizeSubscribeFilter(PRINCIPALS[who], filter, topics, deviceHome)).toBe(allowed);
  });

  it('uses the configured prefix', () => {
    const custom = new Topics('city/anxin/v2');
    expect(authorizeSubscribeFilter(gateway, 'city/anxin/v2/homes/h1/alerts', custom, deviceHome)).toBe(true);
    expect(authorizeSubscribeFilter(gateway, 'city/anxin/v2/homes/h1/devices/+/rejects', custom, deviceHome)).toBe(true);
    expect(authorizeSubscribeFilter(gateway, 'city/anxin/v2/homes/h1/devices/d1/rejects', custom, deviceHome)).toBe(true);
    expect(authorizeSubscribeFilter(device, 'city/anxin/v2/homes/h1/devices/d1/rejects', custom, deviceHome)).toBe(true);
    expect(authorizeSubscribeFilter(gateway, `${P}/h1/alerts`, custom, deviceHome)).toBe(false);
    expect(authorizeSubscribeFilter(device, `${P}/h1/devices/d1/rejects`, custom, deviceHome)).toBe(false);
  });
});

describe('rejectsTopicFor', () => {
  // [principal, the publish that was refused, where the refusal goes]
  const cases: [keyof typeof PRINCIPALS, string, string][] = [
    ['device', `${P}/h1/devices/d1/telemetry`, `${P}/h1/devices/d1/rejects`],
    ['device', `${P}/h1/devices/d2/telemetry`, `${P}/h1/devices/d1/rejects`],
    ['device', `${P}/h2/devices/d9/telemetry`, `${P}/h1/devices/d1/rejects`],
    ['device', `${P}/h1/alerts`, `${P}/h1/devices/d1/rejects`],
    ['device', 'garbage', `${P}/h1/devices/d1/rejects`],
    ['gateway', `${P}/h1/devices/d1/telemetry`, `${P}/h1/devices/d1/rejects`],
    ['gateway', `${P}/h1/devices/d2/telemetry`, `${P}/h1/devices/d2/rejects`],
    ['gateway', `${P}/h1/devices/dx/telemetry`, `${P}/h1/devices/dx/rejects`],
    ['gateway', `${P}/h2/devices/d9/telemetry`, `${P}/h1/gateway/rejects`],
    ['gateway', `${P}/h1/devices/d1/status`, `${P}/h1/gateway/rejects`],
    ['gateway', `${P}/h1/gateway/status`, `${P}/h1/gateway/rejects`],
    ['gateway', `${P}/h1/alerts`, `${P}/h1/gateway/rejects`],
    ['gateway', 'garbage', `${P}/h1/gateway/rejects`],
  ];

  it.each(cases)('%s refused on %s hears on %s', (who, topic, rejects) => {
    expect(rejectsTopicFor(PRINCIPALS[who], topics.parse(topic), topics)).toBe(rejects);
  });

  it.each(cases)('%s may subscribe to where it hears about %s', (who, topic) => {
    const rejects = rejectsTopicFor(PRINCIPALS[who], topics.parse(topic), topics);
    const parsed = topics.parse(rejects);
    // A gateway hears about an unenrolled device through its `devices/+/rejects` subscription.
    const filter = who === 'gateway' && parsed?.kind === 'deviceRejects' ? topics.deviceRejects('h1', '+') : rejects;
    expect(authorizeSubscribeFilter(PRINCIPALS[who], filter, topics, deviceHome)).toBe(true);
  });
});
