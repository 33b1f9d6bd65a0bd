/**
 * AWS's Query protocol as Auto Scaling speaks it: form-encoded parameters in, XML out, errors as
 * `ErrorResponse`. Pure: no socket here, so every answer can be checked byte for byte.
 */
import type { AwsRequestError } from '../aws-request-error.js';
import { validationError } from './errors.js';

export const API_VERSION = '2011-01-01';
export const XML_NAMESPACE = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

/** An element's content: text, a structure (child elements) or a list (`<member>` elements). */
export type XmlValue =
  string | number | boolean | Date | undefined | readonly XmlValue[] | { readonly [element: string]: XmlValue };

/** One request's parameters. The first value of a repeated name counts, as on AWS. */
export class QueryParams {
  private constructor(private readonly values: ReadonlyMap<string, string>) {}

  /** Parses form-encoded sources (query string, body); a malformed pair decodes leniently, never throws. */
  static parse(...sources: string[]): QueryParams {
    const values = new Map<string, string>();
    for (const source of sources) {
      for (const [name, value] of new URLSearchParams(source)) if (!values.has(name)) values.set(name, value);
    }
    return new QueryParams(values);
  }

  optional(name: string): string | undefined {
    const value = this.values.get(name);
    return value === undefined || value === '' ? undefined : value;
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) throw invalid(name, 'null', 'Member must not be null');
    return value;
  }

  integer(name: string): number {
    const value = this.required(name);
    if (!/^-?\d{1,9}$/.test(value)) throw invalid(name, `'${value}'`, 'Member must be an integer');
    return Number(value);
  }

  boolean(name: string): boolean {
    const value = this.required(name);
    if (value !== 'true' && value !== 'false') throw invalid(name, `'${value}'`, 'Member must be a boolean');
    return value === 'true';
  }

  /** A list of structures, `Name.member.N.Field`: one QueryParams of its fields per N, in index order. */
  structures(name: string): QueryParams[] {
    return this.#grouped(`${name}.member.`);
  }

  /** Whether the request gives the parameter, or any field of it (`Name`, `Name.…`), with a value. */
  mentions(name: string): boolean {
    return [...this.values].some(([key, value]) => value !== '' && (key === name || key.startsWith(`${name}.`)));
  }

  /** An optional number (AWS's Double: `70`, `-0.5`, `1e3`). */
  optionalNumber(name: string): number | undefined {
    const value = this.optional(name);
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(value) || !Number.isFinite(number))
      throw invalid(name, `'${value}'`, 'Member must be a number');
    return number;
  }

  /** An optional integer. */
  optionalInteger(name: string): number | undefined {
    return this.optional(name) === undefined ? undefined : this.integer(name);
  }

  /** A structure's fields, `Name.Field`, as their own parameters (empty when absent). */
  structure(name: string): QueryParams {
    const prefix = `${name}.`;
    return new QueryParams(
      new Map(
        [...this.values]
          .filter(([key]) => key.startsWith(prefix))
          .map(([key, value]) => [key.slice(prefix.length), value]),
      ),
    );
  }

  /** EC2's lists of structures, `Name.N.Field` (no `member`): one QueryParams of its fields per N, in index order. */
  indexed(name: string): QueryParams[] {
    return this.#grouped(`${name}.`);
  }

  /** The parameters `PREFIX N.Field`, grouped by N: one QueryParams of its fields per N, in index order. */
  #grouped(prefix: string): QueryParams[] {
    const byIndex = new Map<number, Map<string, string>>();
    for (const [key, value] of this.values) {
      if (!key.startsWith(prefix)) continue;
      const match = /^(\d{1,4})\.(.+)$/.exec(key.slice(prefix.length));
      if (match === null) continue;
      const index = Number(match[1]);
      const fields = byIndex.get(index) ?? new Map<string, string>();
      fields.set(match[2] as string, value);
      byIndex.set(index, fields);
    }
    return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, fields]) => new QueryParams(fields));
  }

  /** EC2's lists of strings, `Name.1`, `Name.2`, … in index order. */
  indexedList(name: string): string[] {
    const prefix = `${name}.`;
    return [...this.values]
      .filter(([key]) => key.startsWith(prefix) && /^\d{1,4}$/.test(key.slice(prefix.length)))
      .sort(([a], [b]) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
      .map(([, value]) => value);
  }

  /** A list parameter: `Name.member.1`, `Name.member.2`, … in index order. */
  list(name: string): string[] {
    const prefix = `${name}.member.`;
    return [...this.values]
      .filter(([key]) => key.startsWith(prefix) && /^\d+$/.test(key.slice(prefix.length)))
      .sort(([a], [b]) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
      .map(([, value]) => value);
  }
}

/** AWS words a parameter error with the member's name in lower camel case. */
function invalid(name: string, value: string, constraint: string): AwsRequestError {
  const member = name.charAt(0).toLowerCase() + name.slice(1);
  return validationError(
    `1 validation error detected: Value ${value} at '${member}' failed to satisfy constraint: ${constraint}`,
  );
}

/** `<ActionResponse>` with `<ActionResult>` (left out for actions that return nothing) and the request id. */
export function resultXml(action: string, result: Record<string, XmlValue> | undefined, requestId: string): string {
  const body = result === undefined ? '' : xmlElement(`${action}Result`, result);
  return (
    `<${action}Response xmlns="${XML_NAMESPACE}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

export function errorXml(error: AwsRequestError, requestId: string): string {
  const type = error.httpStatus >= 500 ? 'Receiver' : 'Sender';
  return (
    `<ErrorResponse xmlns="${XML_NAMESPACE}"><Error><Type>${type}</Type><Code>${error.awsCode}</Code>` +
    `<Message>${escapeXml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

/** One element with its content; list entries are `<member>` (IAM, Auto Scaling) or `<item>` (EC2). */
export function xmlElement(name: string, value: XmlValue, listEntry: 'member' | 'item' = 'member'): string {
  const element = (child: string, content: XmlValue): string => xmlElement(child, content, listEntry);
  if (value === undefined) return '';
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (Array.isArray(value)) {
    const members = value.map((member: XmlValue) => element(listEntry, member)).join('');
    return members === '' ? `<${name}/>` : `<${name}>${members}</${name}>`;
  }
  if (typeof value === 'object') {
    const children = Object.entries(value as Record<string, XmlValue>)
      .map(([child, content]) => element(child, content))
      .join('');
    return children === '' ? `<${name}/>` : `<${name}>${children}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** Escapes text content (never attributes) and drops what XML 1.0 cannot carry: a request may echo any bytes back. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
