/**
 * One Ajv setup for every JSON Schema (TypeBox) checked outside fastify's own
 * request validation: MQTT payloads, config, the import document.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

// First error only for the hot path (one refusal per reading); every error for documents a person fixes.
const firstError = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
const allErrors = new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false });
addFormats(firstError);
addFormats(allErrors);

export function compileSchema<T>(schema: object, opts: { allErrors?: boolean } = {}): ValidateFunction<T> {
  return (opts.allErrors ? allErrors : firstError).compile<T>(schema);
}

/** A validation problem described by the JSON path of the offending value. */
export interface SchemaProblem {
  keyword: string;
  /** JSON Pointer, e.g. `/homes/0/residents/1/birthYear`. */
  path: string;
  message: string;
}

export function describeError(e: ErrorObject): SchemaProblem {
  let path = e.instancePath;
  if (e.keyword === 'required') path += `/${(e.params as { missingProperty: string }).missingProperty}`;
  if (e.keyword === 'additionalProperties') path += `/${(e.params as { additionalProperty: string }).additionalProperty}`;
  const message = e.keyword === 'required' ? 'is required'
    : e.keyword === 'additionalProperties' ? 'is not a known field'
    : e.keyword === 'anyOf' && e.schemaPath.endsWith('/anyOf') ? 'has a value that is not allowed'
    : (e.message ?? 'is invalid');
  return { keyword: e.keyword, path: path || '/', message };
}
