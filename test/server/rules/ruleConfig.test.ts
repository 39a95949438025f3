/** The rule configuration: SPEC §4–5 defaults, merging, validation, targets. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RULE_CONFIG, RuleConfigError, SEVERITY_NAMES, THRESHOLD_NAMES, claimDeadlineMs, loadRuleConfig, thresholdsFor, validateTargets,
} from '../../../server/rules/ruleConfig.js';
import { RULE_IDS } from '../../../server/rules/types.js';

const C = DEFAULT_RULE_CONFIG;

function problemsOf(partial: unknown): string[] {
  try {
    loadRuleConfig(partial);
  } catch (err) {
    expect(err).toBeInstanceOf(RuleConfigError);
    return (err as RuleConfigError).problems.map((p) => `${p.path} ${p.message}`);
  }
  throw new Error('expected a RuleConfigError');
}

describe('defaults: the SPEC §4 table and §5 timings', () => {
  it.each([
    ['fall', { severity: 'critical', recoveredSeverity: 'urgent' }],
    ['sos', { severity: 'critical' }],
    ['bp_crisis', { severity: 'critical', systolic: 180, diastolic: 120 }],
    ['bp_severe', { severity: 'urgent', diastolic: 110 }],
    ['bp_high', { severity: 'warning', systolic: 160, diastolic: 100 }],
    ['bp_low', { severity: 'urgent', systolic: 90, map: 65 }],
    ['pulse_abnormal', { severity: 'critical', criticalLow: 40, criticalHigh: 131, urgentSeverity: 'urgent', urgentLow: 50, urgentHigh: 120 }],
    ['glucose_severe_low', { severity: 'critical', value: 3.0 }],
    ['glucose_low', { severity: 'urgent', value: 3.9 }],
    ['glucose_high', { severity: 'urgent', value: 16.7 }],
    ['glucose_very_high', { severity: 'critical', value: 33.3 }],
    ['bp_trend', { severity: 'warning', systolic: 140, count: 3, windowDays: 7 }],
    ['battery_low', { severity: 'info', percent: 15 }],
    ['device_offline', { severity: 'info', lifeSafetySeverity: 'urgent', lifeSafetyDeviceTypes: ['fall_sensor', 'sos_button'], missedHeartbeats: 3, defaultHeartbeatSeconds: 300 }],
    ['gateway_offline', { severity: 'urgent', minutes: 10 }],
    ['reading_missed', { severity: 'info', doctorSeverity: 'warning', graceHours: 2, doctorAfterDays: 3 }],
    ['no_activity', { severity: 'urgent', hours: 12, dayStart: '07:00', dayEnd: '22:00' }],
  ] as const)('%s', (rule, expected) => {
    expect(C.rules[rule]).toMatchObject(expected);
  });

  it('timings', () => {
    expect(C.lateAfterMinutes).toBe(60);
    expect(C.incidentWindowMinutes).toBe(10);
    expect(claimDeadlineMs(C, 'critical')).toBe(60_000);
    expect(claimDeadlineMs(C, 'urgent')).toBe(600_000);
    expect(claimDeadlineMs(C, 'warning')).toBeNull();
    expect(claimDeadlineMs(C, 'info')).toBeNull();
  });

  it('cites a source for every threshold', () => {
    for (const id of RULE_IDS) {
      for (const name of THRESHOLD_NAMES[id]) expect(C.rules[id].source[name], `${id}.${name}`).toMatch(/\S/);
    }
  });

  it('reads threshold and severity names off the schema', () => {
    expect(THRESHOLD_NAMES.bp_crisis).toEqual(['systolic', 'diastolic']);
    expect(THRESHOLD_NAMES.fall).toEqual([]);
    expect(THRESHOLD_NAMES.no_activity).toEqual(['hours']);
    expect(SEVERITY_NAMES.pulse_abnormal).toEqual(['severity', 'urgentSeverity']);
    expect(SEVERITY_NAMES.device_offline).toEqual(['severity', 'lifeSafetySeverity']);
  });

  it('are valid and frozen', () => {
    expect(loadRuleConfig({})).toEqual(C);
    expect(loadRuleConfig(undefined)).toEqual(C);
    expect(Object.isFrozen(C.rules.bp_crisis)).toBe(true);
  });
});

describe('loadRuleConfig merges over the defaults', () => {
  it('changes one threshold, keeps its neighbours and its citation', () => {
    const c = loadRuleConfig({ rules: { bp_high: { systolic: 165 } }, claimDeadlineSeconds: { warning: 86_400 } });
    expect(c.rules.bp_high).toMatchObject({ systolic: 165, diastolic: 100, severity: 'warning' });
    expect(c.rules.bp_high.source.systolic).toBe(C.rules.bp_high.source.systolic);
    expect(claimDeadlineMs(c, 'warning')).toBe(86_400_000);
    expect(claimDeadlineMs(c, 'critical')).toBe(60_000);
    expect(C.rules.bp_high.systolic).toBe(160);
  });

  it('replaces arrays', () => {
    expect(loadRuleConfig({ rules: { device_offline: { lifeSafetyDeviceTypes: ['sos_button'] } } }).rules.device_offline.lifeSafetyDeviceTypes).toEqual(['sos_button']);
  });
});

describe('loadRuleConfig names every bad path', () => {
  it.each([
    [{ rules: { bp_crisis: { systolic: '180' } } }, 'rules.bp_crisis.systolic must be a number'],
    [{ rules: { bp_crisis: { systolic: -5 } } }, 'rules.bp_crisis.systolic must be greater than 0'],
    [{ rules: { bp_high: { systolic: 185 } } }, 'rules.bp_crisis.systolic must be above rules.bp_high.systolic (185)'],
    [{ rules: { bp_crisis: { systolic: 160 } } }, 'rules.bp_crisis.systolic must be above rules.bp_high.systolic (160)'],
    [{ rules: { bp_severe: { diastolic: 125 } } }, 'rules.bp_crisis.diastolic must be above rules.bp_severe.diastolic (125)'],
    [{ rules: { bp_high: { diastolic: 110 } } }, 'rules.bp_severe.diastolic must be above rules.bp_high.diastolic (110)'],
    [{ rules: { bp_low: { systolic: 160 } } }, 'rules.bp_high.systolic must be above rules.bp_low.systolic (160)'],
    [{ rules: { pulse_abnormal: { urgentLow: 35 } } }, 'rules.pulse_abnormal.urgentLow must be above rules.pulse_abnormal.criticalLow (40)'],
    [{ rules: { pulse_abnormal: { urgentHigh: 140 } } }, 'rules.pulse_abnormal.criticalHigh must be above rules.pulse_abnormal.urgentHigh (140)'],
    [{ rules: { glucose_low: { value: 2.5 } } }, 'rules.glucose_low.value must be above rules.glucose_severe_low.value (3)'],
    [{ rules: { glucose_very_high: { value: 16 } } }, 'rules.glucose_very_high.value must be above rules.glucose_high.value (16.7)'],
    [{ claimDeadlineSeconds: { critical: 0 } }, 'claimDeadlineSeconds.critical must be greater than 0'],
    [{ claimDeadlineSeconds: { urgent: -1 } }, 'claimDeadlineSeconds.urgent must be greater than 0'],
    [{ claimDeadlineSeconds: { critical: 900 } }, 'claimDeadlineSeconds.critical must not be longer than claimDeadlineSeconds.urgent (600)'],
    [{ lateAfterMinutes: 'sixty' }, 'lateAfterMinutes must be a number'],
    [{ incidentWindowMinutes: 0 }, 'incidentWindowMinutes must be greater than 0'],
    [{ rules: { no_activity: { dayStart: '7:00' } } }, 'rules.no_activity.dayStart must be a time of day HH:MM (00:00–23:59)'],
    [{ rules: { no_activity: { dayEnd: '24:00' } } }, 'rules.no_activity.dayEnd must be a time of day HH:MM (00:00–23:59)'],
    [{ rules: { no_activity: { dayEnd: '06:00' } } }, 'rules.no_activity.dayEnd must be after rules.no_activity.dayStart (07:00)'],
    [{ rules: { reading_missed: { graceHours: 24 } } }, 'rules.reading_missed.graceHours must be less than 24'],
    [{ rules: { bp_trend: { count: 2.5 } } }, 'rules.bp_trend.count must be a whole number'],
    [{ rules: { device_offline: { missedHeartbeats: 0 } } }, 'rules.device_offline.missedHeartbeats must be at least 1'],
    [{ rules: { bp_high: { severity: 'severe' } } }, 'rules.bp_high.severity must be one of info, warning, urgent, critical'],
    [{ rules: { device_offline: { lifeSafetyDeviceTypes: ['toaster'] } } }, 'rules.device_offline.lifeSafetyDeviceTypes.0 must be one of bp_cuff, glucose_meter, fall_sensor, sos_button, motion_sensor'],
    [{ rules: { bp_weird: {} } }, 'rules.bp_weird is not a known setting'],
    [{ rules: { bp_high: { sys: 150 } } }, 'rules.bp_high.sys is not a known setting'],
    [{ rules: { bp_low: { source: { map: '' } } } }, 'rules.bp_low.source.map must not be empty'],
    [{ rules: { bp_low: { source: { mapp: 'Surviving Sepsis' } } } }, 'rules.bp_low.source.mapp does not name a setting of bp_low'],
    [{ rules: 'none' }, 'rules must be an object'],
    ['strict', 'rules configuration must be an object'],
  ])('%j → %s', (partial, problem) => {
    expect(problemsOf(partial)).toContain(problem);
  });

  it('reports every problem at once, in its message too', () => {
    const problems = problemsOf({ rules: { bp_crisis: { systolic: '180' }, bp_high: { foo: 1 } }, lateAfterMinutes: -1 });
    expect(problems).toHaveLength(3);
    expect(() => loadRuleConfig({ rules: { bp_crisis: { systolic: 'x' } } })).toThrow(/^invalid rule configuration: rules\.bp_crisis\.systolic must be a number$/);
  });
});

describe('validateTargets', () => {
  it.each([
    [{}, []],
    [{ bp_high: { systolic: 170 } }, []],
    [{ bp_high: { systolic: 170, diastolic: 95 }, glucose_low: { value: 4.4 }, bp_trend: { count: 2 } }, []],
    [{ bp_hihg: { systolic: 170 } }, [{ path: '/bp_hihg', message: 'is not a known rule' }]],
    [{ bp_high: { sys: 170 } }, [{ path: '/bp_high/sys', message: 'is not a threshold of bp_high (known: systolic, diastolic)' }]],
    [{ bp_high: { severity: 'info' } }, [{ path: '/bp_high/severity', message: 'is not a threshold of bp_high (known: systolic, diastolic)' }]],
    [{ bp_high: { systolic: '170' } }, [{ path: '/bp_high/systolic', message: 'must be a number' }]],
    [{ bp_high: { systolic: null } }, [{ path: '/bp_high/systolic', message: 'must be a number' }]],
    [{ bp_high: { systolic: -1 } }, [{ path: '/bp_high/systolic', message: 'must be greater than 0' }]],
    [{ bp_trend: { count: 2.5 } }, [{ path: '/bp_trend/count', message: 'must be a whole number' }]],
    [{ fall: { confidence: 0.5 } }, [{ path: '/fall', message: 'has no thresholds to override' }]],
    [{ bp_high: 170 }, [{ path: '/bp_high', message: 'must be an object of thresholds' }]],
    [{ 'a/b': {} }, [{ path: '/a~1b', message: 'is not a known rule' }]],
    [[], [{ path: '/', message: 'must be an object' }]],
    [null, [{ path: '/', message: 'must be an object' }]],
  ])('%j → %j', (targets, problems) => {
    expect(validateTargets(targets)).toEqual(problems);
  });

  it('accepts exactly what thresholdsFor applies', () => {
    const targets = { bp_low: { systolic: 100, map: 70 } };
    expect(validateTargets(targets)).toEqual([]);
    expect(thresholdsFor(C, 'bp_low', targets)).toEqual({ systolic: 100, map: 70 });
  });
});
