/** The dashboard's one style sheet, served as /ui/style.css (a file of its own: the policy allows no inline style). */
export const STYLE_CSS = `
:root {
  --bg: #f6f7f9; --panel: #fff; --text: #1d2330; --muted: #667085; --line: #e3e6eb;
  --accent: #c2410c; --ok: #15803d; --bad: #b91c1c; --warn: #854d0e; --muted: #5b6474;
  color-scheme: light dark;
  font: 14px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); }
header { display: flex; align-items: center; gap: 1rem; padding: 0.6rem 1.2rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
header .spacer { flex: 1; }
header .who { color: #cbd2dc; }
main { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 1rem; padding: 1rem 1.2rem; }
main > .wide { grid-column: 1 / -1; }
@media (max-width: 1000px) { main { grid-template-columns: minmax(0, 1fr); } }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 0.8rem 1rem; min-width: 0; }
section h2 { font-size: 1rem; margin: 0 0 0.6rem; display: flex; align-items: center; gap: 0.6rem; }
section h2 .count { color: var(--muted); font-weight: normal; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 0.8rem; text-transform: uppercase; }
tr.clickable { cursor: pointer; }
tr.clickable:hover, tr.selected { background: #fff4ed; }
.scroll { overflow: auto; max-height: 28rem; }
input, select, button, textarea { color: inherit; background: var(--panel); font: inherit; padding: 0.3rem 0.5rem; border: 1px solid var(--line); border-radius: 4px; }
button { background: var(--panel); cursor: pointer; }
a { color: #1d4ed8; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button:disabled { opacity: 0.5; cursor: default; }
form.row, .row { display: flex; gap: 0.5rem; flex-wrap: wrap; align-items: center; margin-bottom: 0.6rem; }
.row input.grow { flex: 1; min-width: 8rem; }
.badge { display: inline-block; padding: 0 0.4rem; border-radius: 3px; font-size: 0.8rem; background: #eef0f3; }
.badge.ok, .badge.accepted, .badge.live, .badge.success, .badge.InService { background: #dcfce7; color: var(--ok); }
.badge.bad, .badge.rejected, .badge.denied, .badge.dead, .badge.failure { background: #fee2e2; color: var(--bad); }
.badge.warn, .badge.pending, .badge.draining, .badge.waiting { background: #fef9c3; color: var(--warn); }
.dot { display: inline-block; width: 0.6rem; height: 0.6rem; border-radius: 50%; background: var(--muted); margin-right: 0.3rem; }
.dot.on { background: var(--ok); }
.muted { color: var(--muted); }
.fingerprint { font-family: ui-monospace, monospace; font-size: 0.75rem; word-break: break-all; }
td.actions { white-space: nowrap; text-align: right; }
.error { color: var(--bad); margin: 0.4rem 0; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: 0.8rem; max-height: 12rem; overflow: auto; }
.login { max-width: 26rem; margin: 5rem auto; }
.login input { width: 100%; margin: 0.6rem 0; }
.events li { font-family: ui-monospace, monospace; font-size: 0.8rem; list-style: none; border-bottom: 1px solid var(--line); padding: 0.2rem 0; }
.events { margin: 0; padding: 0; max-height: 20rem; overflow: auto; }
.loading { padding: 2rem; color: var(--muted); }
h3 { font-size: 0.9rem; margin: 0.8rem 0 0.4rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
dialog { border: 1px solid var(--line); border-radius: 6px; padding: 1rem 1.2rem; max-width: min(36rem, 92vw); background: var(--panel); color: var(--text); }
dialog::backdrop { background: rgb(0 0 0 / 0.4); }
dialog .subject code { font-size: 0.9rem; word-break: break-all; }
.reason { color: var(--warn); }
.badge.changed { background: #e0f2fe; color: #0369a1; }
.badge.clean { background: #dcfce7; color: var(--ok); }
.badge.failed { background: #fee2e2; color: var(--bad); }
.badge.differs { background: #fef9c3; color: var(--warn); }
.state { border-left: 3px solid var(--ok); padding: 0.2rem 0.5rem; margin: 0.3rem 0; }
.state.changed { border-color: #0369a1; }
.state.failed { border-color: var(--bad); background: #fef2f2; }
.state.differs { border-color: var(--warn); }
.state-head { display: flex; flex-wrap: wrap; gap: 0.3rem; align-items: baseline; }
.state-head .spacer { flex: 1; }
.state-summary { margin: 0 0 0.3rem; }
pre.comment { color: var(--text); max-height: none; }
pre.diff { max-height: 24rem; background: #f8fafc; padding: 0.3rem; }
.diff-add { color: var(--ok); background: #f0fdf4; }
.diff-del { color: var(--bad); background: #fef2f2; }
.diff-hunk { color: #0369a1; }
.diff-file { color: var(--muted); font-weight: 600; }
details.tree > summary { cursor: pointer; color: var(--muted); font-size: 0.8rem; }
details.tree dl { margin: 0 0 0 1rem; }
.tree-entry { display: flex; gap: 0.5rem; }
.tree-entry dt { font-weight: 600; font-family: ui-monospace, monospace; font-size: 0.8rem; }
.tree-entry dd { margin: 0; min-width: 0; }
code.scalar { white-space: pre-wrap; word-break: break-word; }
.long pre { max-height: 20rem; }
.result-filters label { display: inline-flex; align-items: center; gap: 0.2rem; }
.badge.running { background: #fef9c3; color: var(--warn); }
.badge.incomplete { background: #fee2e2; color: var(--bad); }
header h1 a { color: inherit; text-decoration: none; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.2rem 1rem; margin: 0 0 0.8rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table.instances { table-layout: fixed; }
table.instances th:first-child { width: 22%; }
table.instances tbody tr:not(.spacer) { height: 34px; }
table.instances td { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; vertical-align: middle; padding-top: 0; padding-bottom: 0; }
.instances-scroll { height: 28rem; }
.instances-scroll thead th { position: sticky; top: 0; background: var(--panel); z-index: 1; }
th button.sort { all: unset; cursor: pointer; }
th button.sort:focus-visible { outline: 2px solid var(--accent); }
.filters select, .filters input { max-width: 12rem; }
.badge.in-service { background: #dcfce7; color: var(--ok); }
.badge.launching, .badge.warming, .badge.terminating { background: #fef9c3; color: var(--warn); }
.histories { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); gap: 0 1.5rem; }
.badge.never { background: #eef0f3; color: var(--muted); }
.fleet-grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0.5rem 1.5rem; }
.fleet-grid .wide-cell { grid-column: 1 / -1; }
@media (max-width: 700px) { .fleet-grid { grid-template-columns: minmax(0, 1fr); } }
ul.bars { list-style: none; margin: 0; padding: 0; }
ul.bars li { display: grid; grid-template-columns: minmax(0, 12rem) minmax(2rem, 1fr) minmax(0, max-content); gap: 0.5rem; align-items: center; padding: 0.1rem 0; }
.bar-track { background: var(--line); height: 0.7rem; border-radius: 3px; overflow: hidden; }
.bar { display: block; height: 100%; background: var(--muted); }
.bar.ok { background: var(--ok); } .bar.bad { background: var(--bad); } .bar.warn { background: var(--warn); }
.bar-value { font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.bar-label { overflow-wrap: anywhere; }
.chart { width: 100%; min-height: 180px; }
.u-legend { font-size: 0.8rem; color: var(--text); }
.u-legend th { text-transform: none; font-weight: normal; color: var(--text); }
.chart { overflow: hidden; }
/* At 800 px and below the tables still fit: cells wrap, padding shrinks, ids break anywhere. */
@media (max-width: 900px) {
  header { flex-wrap: wrap; padding: 0.5rem 0.8rem; }
  main { padding: 0.6rem; gap: 0.6rem; }
  section { padding: 0.6rem; }
  th, td { padding: 0.25rem 0.3rem; font-size: 0.85rem; }
  td { overflow-wrap: anywhere; }
  table.instances th:first-child { width: 24%; }
  th { font-size: 0.7rem; }
}
/* Dark: the same colours' meaning, on a dark ground (the system's setting). */
@media (prefers-color-scheme: dark) {
  :root { --bg: #0f131a; --panel: #171c25; --text: #e5e9f0; --muted: #a3acb9; --line: #2c3442; --ok: #4ade80; --bad: #f87171; --warn: #facc15; --accent: #fb923c; }
  header { background: #0b0e13; }
  a { color: #93c5fd; }
  button.primary { background: #9a3412; border-color: #9a3412; }
  .badge { background: #2c3442; color: var(--text); }
  .badge.ok, .badge.accepted, .badge.live, .badge.success, .badge.InService, .badge.in-service, .badge.clean { background: #14301f; color: var(--ok); }
  .badge.bad, .badge.rejected, .badge.denied, .badge.dead, .badge.failure, .badge.failed, .badge.incomplete { background: #3b1616; color: var(--bad); }
  .badge.warn, .badge.pending, .badge.draining, .badge.waiting, .badge.running, .badge.differs, .badge.launching, .badge.warming, .badge.terminating { background: #3a3110; color: var(--warn); }
  .badge.changed { background: #0c2d44; color: #7dd3fc; }
  .badge.never { background: #2c3442; color: var(--muted); }
  tr.clickable:hover, tr.selected { background: #2a1d14; }
  .state.failed { background: #2a1414; }
  pre.diff { background: #11161e; }
  .diff-add { background: #10261a; }
  .diff-del { background: #2a1414; }
  .diff-hunk { color: #7dd3fc; }
}
`;
