/**
 * Topic access rules of SPEC §2, as pure functions of who is asking and what.
 * A device: its own telemetry/status, its own rejects. A gateway: the same for
 * every device of its home, its home's gateway status and rejects, and alerts.
 */
import type { ParsedTopic, Topics } from '../../devices/topics.js';
import type { ClientKind } from '../store/directoryStore.js';

export interface Principal {
  kind: ClientKind;
  id: string;
  homeId: string;
}

/** Where a device lives, as far as the ACL needs to know. */
export type DeviceHome = (deviceId: string) => string | undefined;

export type PublishDecision = { allowed: true } | { allowed: false; reason: 'topic_not_allowed' | 'unknown_device'; detail: string };

export function authorizePublishTopic(p: Principal, topic: ParsedTopic | null, deviceHome: DeviceHome): PublishDecision {
  if (!topic || topic.kind === 'deviceRejects' || topic.kind === 'gatewayRejects' || topic.kind === 'alerts') {
    return deny('only telemetry and status topics may be published to');
  }
  if (topic.homeId !== p.homeId) return deny(`home ${topic.homeId} is not this ${p.kind}'s home`);
  if (topic.kind === 'gatewayStatus') {
    return p.kind === 'gateway' ? { allowed: true } : deny('only the gateway publishes gateway status');
  }
  if (p.kind === 'device') {
    return topic.deviceId === p.id ? { allowed: true } : deny(`device ${p.id} may not publish for ${topic.deviceId}`);
  }
  if (deviceHome(topic.deviceId) !== p.homeId) {
    return { allowed: false, reason: 'unknown_device', detail: `device ${topic.deviceId} is not enrolled in home ${p.homeId}` };
  }
  return { allowed: true };
}

/** Whether a subscription filter (which may hold `+`) is one this principal may hold. */
export function authorizeSubscribeFilter(p: Principal, filter: string, topics: Topics, deviceHome: DeviceHome): boolean {
  if (p.kind === 'device') return filter === topics.deviceRejects(p.homeId, p.id);
  if (filter === topics.alerts(p.homeId) || filter === topics.gatewayRejects(p.homeId)) return true;
  if (filter === topics.deviceRejects(p.homeId, '+')) return true;
  const parsed = topics.parse(filter);
  return parsed?.kind === 'deviceRejects' && parsed.homeId === p.homeId && deviceHome(parsed.deviceId) === p.homeId;
}

/** The topic on which a principal hears about its own refused publishes. */
export function rejectsTopicFor(p: Principal, topic: ParsedTopic | null, topics: Topics): string {
  if (p.kind === 'device') return topics.deviceRejects(p.homeId, p.id);
  if (topic && topic.kind === 'telemetry' && topic.homeId === p.homeId) return topics.deviceRejects(p.homeId, topic.deviceId);
  return topics.gatewayRejects(p.homeId);
}

function deny(detail: string): PublishDecision {
  return { allowed: false, reason: 'topic_not_allowed', detail };
}
