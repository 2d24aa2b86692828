// Text templates over a record's fields: `"{instruction}\n{context}\n{response}"`. `{name}` is
// replaced by the field's value; `{{` and `}}` stand for literal braces. A plain text field `f` is
// the template `{f}`.
import { InputError } from '../errors.ts';

export interface Template {
  source: string;
  /** Literal text and field references, in order. */
  parts: ({ text: string } | { field: string })[];
  /** Distinct fields named, in first-use order. */
  fields: string[];
}

export function parseTemplate(source: string): Template {
  const parts: Template['parts'] = [];
  let text = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if ((ch === '{' || ch === '}') && source[i + 1] === ch) {
      text += ch;
      i++;
    } else if (ch === '{') {
      const end = source.indexOf('}', i + 1);
      const name = end < 0 ? '' : source.slice(i + 1, end);
      if (end < 0 || name === '' || name.includes('{')) {
        throw new InputError(`template ${JSON.stringify(source)}: unclosed or empty "{" at character ${i + 1} (write "{{" for a literal brace)`);
      }
      if (text) parts.push({ text });
      text = '';
      parts.push({ field: name });
      i = end;
    } else if (ch === '}') {
      throw new InputError(`template ${JSON.stringify(source)}: unmatched "}" at character ${i + 1} (write "}}" for a literal brace)`);
    } else {
      text += ch;
    }
  }
  if (text) parts.push({ text });
  const fields = [...new Set(parts.flatMap((p) => ('field' in p ? [p.field] : [])))];
  if (fields.length === 0) throw new InputError(`template ${JSON.stringify(source)} names no field (write {field})`);
  return { source, parts, fields };
}

/**
 * A field value as text: strings as they are, numbers/bigints/booleans printed, null as "" (a
 * nullable column's empty cell). An absent field or a nested value is an error naming the field.
 */
export function fieldText(record: Record<string, unknown>, field: string, where: () => string): string {
  const value = ownField(record, field);
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'undefined': {
      const present = Object.keys(record).join(', ') || 'none';
      throw new InputError(`${where()}: field "${field}" is missing (fields present: ${present})`);
    }
    default:
      if (value === null) return '';
      throw new InputError(`${where()}: field "${field}" is ${Array.isArray(value) ? 'an array' : typeof value}, expected text`);
  }
}

/**
 * A record's own field: a row's keys come from its file, so `constructor`, `toString` or
 * `__proto__` name fields (present or missing), never what every object inherits.
 */
export function ownField(record: Record<string, unknown>, field: string): unknown {
  return Object.hasOwn(record, field) ? record[field] : undefined;
}

export function renderTemplate(template: Template, record: Record<string, unknown>, where: () => string): string {
  let out = '';
  for (const p of template.parts) out += 'text' in p ? p.text : fieldText(record, p.field, where);
  return out;
}
