import { ApiFailure } from './api.js';
import type { MinionView } from '@phoenix/api';

/** "12 s ago", "3 min ago": how old a timestamp is, for a table cell. */
export function ago(at: number | undefined, now = Date.now()): string {
  if (at === undefined) return '—';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(at).toISOString().slice(0, 16).replace('T', ' ');
}

/** The os grains (`Debian 12`), or '' when the minion has not reported them. */
export function osText(minion: MinionView): string {
  const g = minion.grains;
  return [g.os, g.osrelease].filter((v) => typeof v === 'string' || typeof v === 'number').join(' ');
}

/**
 * The minion's role: its `roles` (a list or one string), else `role`, else the naming convention's
 * `service_group` (what a launched instance is for); '' when it has none.
 */
export function roleText(minion: MinionView): string {
  const g = minion.grains;
  if (Array.isArray(g.roles)) return g.roles.map(String).join(', ');
  for (const value of [g.roles, g.role, g.service_group]) {
    if (typeof value === 'string' && value !== '') return value;
  }
  return '';
}

/** The os and role grains in one short line. */
export function grainsSummary(minion: MinionView): string {
  return [osText(minion), roleText(minion)].filter((part) => part !== '').join(' · ');
}

export function errorText(err: unknown): string {
  if (err instanceof ApiFailure) return `${err.message} (${err.code})`;
  return err instanceof Error ? err.message : String(err);
}
