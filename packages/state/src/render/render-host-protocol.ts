/** Messages between a master and its render process (render-process.ts, render-host.ts). Plain data only. */

/** The master asks: render this template in that session; or end a session. */
export type HostRequest =
  | {
      readonly t: 'render';
      readonly id: number;
      readonly session: number;
      readonly source: string;
      readonly path: string;
      readonly context: Record<string, unknown>;
      readonly timeoutMs: number;
      readonly trimBlocks: boolean;
      readonly lstripBlocks: boolean;
    }
  | { readonly t: 'end'; readonly session: number };

/** The master answers a template's `salt[...]`, include or sls_exists. */
export type HostResponse =
  | { readonly t: 'answer'; readonly ask: number; readonly ok: true; readonly value: unknown }
  | { readonly t: 'answer'; readonly ask: number; readonly ok: false; readonly error: string };
