/**
 * A patient's own thresholds (PUT /api/v1/residents/:id/targets). Each field
 * shows the configured default as its placeholder; an empty field means "use
 * the default". The hub validates, and its problems come back by JSON path
 * (`/bp_high/systolic`), each shown under its own field.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../../lib/api';
import { localizeProblem, RULE_TEXT, THRESHOLD_TEXT, useI18n, word } from '../../lib/i18n';
import type { HubConfig } from '../../lib/types';

/** The clinical rules a doctor tunes per patient, in the order they think about them. */
const EDITABLE: Array<[rule: string, names: string[]]> = [
  ['bp_high', ['systolic', 'diastolic']],
  ['bp_severe', ['diastolic']],
  ['bp_crisis', ['systolic', 'diastolic']],
  ['bp_low', ['systolic', 'map']],
  ['bp_trend', ['systolic', 'count', 'windowDays']],
  ['pulse_abnormal', ['criticalLow', 'urgentLow', 'urgentHigh', 'criticalHigh']],
  ['glucose_severe_low', ['value']],
  ['glucose_low', ['value']],
  ['glucose_high', ['value']],
  ['glucose_very_high', ['value']],
];

type Form = Record<string, string>;
const key = (rule: string, name: string) => `/${rule}/${name}`;
const EDITABLE_PATHS = new Set(EDITABLE.flatMap(([rule, names]) => names.map((n) => key(rule, n))));

function toForm(targets: Record<string, Record<string, number>>): Form {
  const form: Form = {};
  for (const [rule, names] of Object.entries(targets)) {
    for (const [name, v] of Object.entries(names)) if (EDITABLE_PATHS.has(key(rule, name))) form[key(rule, name)] = String(v);
  }
  return form;
}

export function TargetsEditor(props: { residentId: string; targets: Record<string, Record<string, number>>; config: HubConfig | null; onSaved: () => void }) {
  const { t, lang } = useI18n();
  const [form, setForm] = useState<Form>(() => toForm(props.targets));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [summary, setSummary] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    setErrors({});
    setSummary(null);
  }, [props.residentId]);
  useEffect(() => {
    setForm(toForm(props.targets));
  }, [props.residentId, JSON.stringify(props.targets)]);

  const submit = async (e: Event) => {
    e.preventDefault();
    // Targets this form does not show (e.g. battery_low set by an admin) are kept as they are.
    const body: Record<string, Record<string, number>> = {};
    for (const [rule, names] of Object.entries(props.targets)) {
      for (const [name, v] of Object.entries(names)) if (!EDITABLE_PATHS.has(key(rule, name))) (body[rule] ??= {})[name] = v;
    }
    const local: Record<string, string> = {};
    for (const [path, raw] of Object.entries(form)) {
      if (!raw.trim()) continue;
      const [, rule, name] = path.split('/') as [string, string, string];
      const n = Number(raw.trim().replace(',', '.'));
      if (!Number.isFinite(n)) local[path] = lang === 'en' ? 'must be a number' : '必须是数字';
      else (body[rule] ??= {})[name] = n;
    }
    setErrors(local);
    if (Object.keys(local).length) {
      setSummary({ text: t('targetsInvalid'), error: true });
      return;
    }
    setBusy(true);
    try {
      await api.putTargets(props.residentId, body);
      setSummary({ text: t('saved'), error: false });
      props.onSaved();
    } catch (err) {
      if (err instanceof ApiError) {
        const byPath: Record<string, string> = {};
        for (const p of err.errors) byPath[p.path] = localizeProblem(p.message, lang);
        if (!err.errors.length) byPath[err.field ?? '/'] = err.message;
        setErrors(byPath);
        setSummary({ text: t('targetsInvalid'), error: true });
      } else {
        setSummary({ text: (err as Error).message, error: true });
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel targets" onSubmit={submit} aria-labelledby="targets-title" data-testid="targets-form" noValidate>
      <div class="panel-head">
        <h3 id="targets-title">{t('targets')}</h3>
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="targets-save">{t('save')}</button>
      </div>
      <p class="muted">{t('targetsHelp')}</p>
      {summary && <p class={summary.error ? 'form-error' : 'form-ok'} role={summary.error ? 'alert' : 'status'} data-testid="targets-summary">{summary.text}</p>}
      {errors['/'] && <p class="form-error">{errors['/']}</p>}
      <div class="targets-grid">
        {EDITABLE.map(([rule, names]) => (
          <fieldset key={rule}>
            <legend>{word(RULE_TEXT, rule, lang)}</legend>
            {names.map((name) => {
              const path = key(rule, name);
              const id = `t-${rule}-${name}`;
              const def = props.config?.rules[rule]?.thresholds[name];
              const err = errors[path];
              return (
                <div class={`field${err ? ' field-error' : ''}`} key={path}>
                  <label for={id}>{word(THRESHOLD_TEXT, name, lang)}</label>
                  <input id={id} name={path} inputMode="decimal" value={form[path] ?? ''} placeholder={def === undefined ? '' : t('defaultValue', { v: def })}
                    aria-invalid={err ? true : undefined} aria-describedby={err ? `${id}-err` : undefined} data-path={path}
                    onInput={(e) => setForm({ ...form, [path]: e.currentTarget.value })} />
                  {err && <span id={`${id}-err`} class="field-msg" data-testid={`error-${rule}-${name}`}>{err}</span>}
                </div>
              );
            })}
          </fieldset>
        ))}
      </div>
    </form>
  );
}
