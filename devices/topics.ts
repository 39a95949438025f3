/**
 * The one module that builds and parses Anxin's MQTT topics (SPEC §2).
 * Every other module goes through it, so the topic layout lives in one place.
 */

export const DEFAULT_TOPIC_PREFIX = 'anxin/v1';

/** Ids of homes, devices and gateways (SPEC §1). */
export const ID_PATTERN = '^[a-z0-9][a-z0-9-]{0,63}$';
const ID_RE = new RegExp(ID_PATTERN);

export function isValidId(id: string): boolean {
  return ID_RE.test(id);
}

export type ParsedTopic =
  | { kind: 'telemetry'; homeId: string; deviceId: string }
  | { kind: 'deviceStatus'; homeId: string; deviceId: string }
  | { kind: 'deviceRejects'; homeId: string; deviceId: string }
  | { kind: 'gatewayStatus'; homeId: string }
  | { kind: 'gatewayRejects'; homeId: string }
  | { kind: 'alerts'; homeId: string };

/** Builds and parses topics under one configurable prefix. */
export class Topics {
  private readonly prefixLevels: number;

  constructor(readonly prefix: string = DEFAULT_TOPIC_PREFIX) {
    this.prefixLevels = prefix.split('/').length;
  }

  telemetry(homeId: string, deviceId: string): string {
    return `${this.prefix}/homes/${homeId}/devices/${deviceId}/telemetry`;
  }

  deviceStatus(homeId: string, deviceId: string): string {
    return `${this.prefix}/homes/${homeId}/devices/${deviceId}/status`;
  }

  deviceRejects(homeId: string, deviceId: string): string {
    return `${this.prefix}/homes/${homeId}/devices/${deviceId}/rejects`;
  }

  gatewayStatus(homeId: string): string {
    return `${this.prefix}/homes/${homeId}/gateway/status`;
  }

  /** Rejects of publishes a gateway made outside its home's device topics (an extension of SPEC §2). */
  gatewayRejects(homeId: string): string {
    return `${this.prefix}/homes/${homeId}/gateway/rejects`;
  }

  alerts(homeId: string): string {
    return `${this.prefix}/homes/${homeId}/alerts`;
  }

  /** Parses a concrete topic (no wildcards); null when it is not one of ours. */
  parse(topic: string): ParsedTopic | null {
    if (!topic.startsWith(this.prefix + '/')) return null;
    const parts = topic.split('/').slice(this.prefixLevels);
    if (parts[0] !== 'homes' || parts.length < 3) return null;
    const homeId = parts[1]!;
    if (!isValidId(homeId)) return null;
    if (parts.length === 3 && parts[2] === 'alerts') return { kind: 'alerts', homeId };
    if (parts.length === 4 && parts[2] === 'gateway') {
      if (parts[3] === 'status') return { kind: 'gatewayStatus', homeId };
      if (parts[3] === 'rejects') return { kind: 'gatewayRejects', homeId };
      return null;
    }
    if (parts.length === 5 && parts[2] === 'devices') {
      const deviceId = parts[3]!;
      if (!isValidId(deviceId)) return null;
      switch (parts[4]) {
        case 'telemetry': return { kind: 'telemetry', homeId, deviceId };
        case 'status': return { kind: 'deviceStatus', homeId, deviceId };
        case 'rejects': return { kind: 'deviceRejects', homeId, deviceId };
        default: return null;
      }
    }
    return null;
  }
}
